# tests/bad-input/: lilyvm-rewrite refuses corrupt images and unusable output
# paths with one line and leaves nothing behind. mkbad derives each corrupt
# image from tiny.elf (and from its rewritten copy, made by the test).
check_PROGRAMS += tests/bad-input/mkbad
tests_bad_input_mkbad_SOURCES = tests/bad-input/mkbad.c

BAD_INPUT_LINK = -static -Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,max-page-size=16

tests/bad-input/tiny.elf: $(srcdir)/tests/bad-input/tiny.S
	@mkdir -p tests/bad-input
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(BAD_INPUT_LINK) -o $@ \
		$(srcdir)/tests/bad-input/tiny.S

# A real relocatable object of the same code, as a user might pass by mistake.
tests/bad-input/tiny.o: $(srcdir)/tests/bad-input/tiny.S
	@mkdir -p tests/bad-input
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) -c -o $@ $(srcdir)/tests/bad-input/tiny.S

check_DATA += tests/bad-input/tiny.elf tests/bad-input/tiny.o
TESTS += tests/bad-input/bad-input.sh
CLEANFILES += tests/bad-input/tiny.elf tests/bad-input/tiny.o
EXTRA_DIST += tests/bad-input/tiny.S tests/bad-input/bad-input.sh
