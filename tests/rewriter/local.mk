# tests/rewriter: hand-written i386 images with every catalogue encoding and
# its look-alikes, and the test that checks lilyvm-rewrite on them.
REWRITER_TEST_IMAGES = tests/rewriter/sites.elf tests/rewriter/sites-stripped.elf \
	tests/rewriter/lookalike.elf tests/rewriter/lookalike-stripped.elf
REWRITER_TEST_DEPS = tests/rewriter/marks.inc tests/rewriter/encodings.inc
# Static, at 1 MiB like a kernel, without a build-id note: only what the source says.
REWRITER_TEST_LINK = $(CC) $(GUEST_CFLAGS) -static -Wl,-Ttext=0x100000 \
	-Wl,--build-id=none -I$(srcdir)/tests/rewriter

check_DATA += $(REWRITER_TEST_IMAGES)
TESTS += tests/rewriter/check-sites.sh
CLEANFILES += $(REWRITER_TEST_IMAGES) tests/rewriter/lookalike-stripped.elf.full
EXTRA_DIST += tests/rewriter/check-sites.sh tests/rewriter/sites.S \
	tests/rewriter/lookalike.S $(REWRITER_TEST_DEPS)

tests/rewriter/sites.elf: tests/rewriter/sites.S $(REWRITER_TEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(REWRITER_TEST_LINK) -o $@ $(srcdir)/tests/rewriter/sites.S

tests/rewriter/lookalike.elf: tests/rewriter/lookalike.S $(REWRITER_TEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(REWRITER_TEST_LINK) -o $@ $(srcdir)/tests/rewriter/lookalike.S

# The stripped images keep .expect and .lookalike: strip drops only symbols.
tests/rewriter/sites-stripped.elf: tests/rewriter/sites.elf
	$(AM_V_GEN)objcopy --strip-all $< $@

tests/rewriter/lookalike-stripped.elf: tests/rewriter/lookalike.S $(REWRITER_TEST_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(REWRITER_TEST_LINK) -DWITHOUT_SYMBOLS -o $@.full $(srcdir)/tests/rewriter/lookalike.S && \
	objcopy --strip-all $@.full $@ && rm -f $@.full
