# tests/net-user: the back end's option parser (the guest-level network test
# is tests/net/).
check_PROGRAMS += tests/net-user/test-options
TESTS += tests/net-user/test-options
tests_net_user_test_options_SOURCES = tests/net-user/test-options.c net-user/netuser.h \
	net-user/options.c tests/devices/check.h
