# mmu-emu/: guest paging (the walk and the model of the child's mappings),
# a library the monitor links; it calls nothing but libc.
noinst_LIBRARIES += mmu-emu/libmmu.a
mmu_emu_libmmu_a_SOURCES = mmu-emu/mmu.h mmu-emu/walk.c mmu-emu/space.c
EXTRA_DIST += mmu-emu/README.md
