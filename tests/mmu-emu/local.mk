# tests/mmu-emu: unit tests of mmu-emu. test-walk runs mmu_translate() over
# page tables built in a fake guest RAM and checks it against the SDM's rules.
check_PROGRAMS += tests/mmu-emu/test-walk
TESTS += tests/mmu-emu/test-walk
tests_mmu_emu_test_walk_SOURCES = tests/mmu-emu/test-walk.c
tests_mmu_emu_test_walk_LDADD = mmu-emu/libmmu.a
