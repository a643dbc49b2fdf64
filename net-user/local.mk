# net-user/: the "user" network back end (libslirp). Its back end registers
# through a linker section, as devices do, so NET_USER_SOURCES go in the
# SOURCES of the program that has them (lightvm/local.mk): a static library
# would let the linker drop the registration.
NET_USER_SOURCES = net-user/netuser.h net-user/options.c net-user/slirp.c
EXTRA_DIST += net-user/README.md
