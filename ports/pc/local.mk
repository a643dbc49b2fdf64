# ports/pc/: what the PC boot protocols share (ELF loading, the memory map).
noinst_LIBRARIES += ports/pc/libpc.a
ports_pc_libpc_a_SOURCES = ports/pc/pc.h ports/pc/pc.c
EXTRA_DIST += ports/pc/README.md
