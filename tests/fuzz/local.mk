# tests/fuzz/: libFuzzer harnesses for librewrite's ELF reader and writer
# (fuzz_elf) and for mmu-emu's page-table walk (fuzz-walk). `make fuzz` runs
# both, one after the other; `make fuzz-elf` and `make fuzz-walk` run one.
#
# `make fuzz-elf` builds its harness with clang, libFuzzer, ASan and UBSan
# from the rewriter's own sources (the gcc-built librewrite.a carries no
# instrumentation) and runs it for FUZZ_SECONDS over a seed corpus: valid
# images, their rewritten copies and the corrupt variants of tests/bad-input.
# Inputs that reach new code accumulate in tests/fuzz/corpus across runs;
# crashing inputs are saved in tests/fuzz/artifacts.
#
# `make fuzz-walk` builds fuzz-walk.c with mmu-emu/walk.c the same way and
# runs it for FUZZ_WALK_SECONDS from an empty corpus (an input is registers
# and a few entries poked into a small RAM, so the fuzzer finds its way
# alone); its corpus is tests/fuzz/corpus-walk. `make fuzz-linuxboot` does the
# same for ports/linux (bzImage header, decompressors, the boot protocol) for
# FUZZ_WALK_SECONDS into tests/fuzz/corpus-linuxboot. `make fuzz-virtio`
# drives the virtio-net card (registers, rings in guest RAM, frames from the
# host) and the `--net user` option parser into tests/fuzz/corpus-virtio.
# `make fuzz-sitetab` reads any bytes as a rewritten image the way the
# monitor does (note, site table, trampolines: lightvm/sitetab.c), from the
# rewritten seeds, into tests/fuzz/corpus-sitetab.
FUZZ_SECONDS = 600
FUZZ_WALK_SECONDS = 300
FUZZ_MAX_LEN = 65536
FUZZ_TIMEOUT = 10
FUZZ_SANITIZE = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
# ports/linux and ports/pc, compiled again with the sanitizers (fuzz-linuxboot).
FUZZ_LINUX_C_FILES = $(srcdir)/ports/linux/bzimage.c $(srcdir)/ports/linux/unpack.c \
	$(srcdir)/ports/linux/boot.c $(srcdir)/ports/pc/pc.c
# The sources of rewriter/librewrite.a, compiled again with the sanitizers.
FUZZ_C_FILES = $(srcdir)/tests/fuzz/fuzz_elf.c $(srcdir)/rewriter/elfimg.c \
	$(srcdir)/rewriter/catalogue.c $(srcdir)/rewriter/scan.c \
	$(srcdir)/rewriter/output.c $(srcdir)/rewriter/report.c \
	$(srcdir)/rewriter/linuxtab.c $(srcdir)/rewriter/pv.c
FUZZ_H_FILES = $(srcdir)/rewriter/rewrite.h $(srcdir)/rewriter/image.h \
	$(srcdir)/rewriter/sites.h
# Small page alignment keeps the seeds compact, so mutations hit headers often.
FUZZ_SEED_LINK = -static -Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,max-page-size=16
FUZZ_IMAGES = tests/fuzz/seed.elf tests/fuzz/seed-stripped.elf \
	tests/bad-input/tiny.elf tests/guests/demo/demo.elf

tests/fuzz/seed.elf: $(srcdir)/tests/fuzz/seed.S
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(FUZZ_SEED_LINK) -o $@ $(srcdir)/tests/fuzz/seed.S

# Without symbols the scanner takes its other path (entry, then linear sweep).
tests/fuzz/seed-stripped.elf: $(srcdir)/tests/fuzz/seed.S
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(FUZZ_SEED_LINK) -s -o $@ $(srcdir)/tests/fuzz/seed.S

tests/fuzz/seeds.stamp: $(FUZZ_IMAGES) rewriter/lilyvm-rewrite tests/bad-input/mkbad
	$(AM_V_GEN)rm -rf tests/fuzz/seeds && mkdir -p tests/fuzz/seeds && \
	for f in $(FUZZ_IMAGES); do \
		seed=tests/fuzz/seeds/`basename $$f` && cp $$f $$seed && \
		rewriter/lilyvm-rewrite $$f -o $$seed.rw || exit 1; \
	done && \
	tests/bad-input/mkbad tests/fuzz/seeds tests/bad-input/tiny.elf \
		tests/fuzz/seeds/tiny.elf.rw >/dev/null && \
	touch $@

if HAVE_CLANG
tests/fuzz/fuzz_elf: $(FUZZ_C_FILES) $(FUZZ_H_FILES)
	@mkdir -p tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(AM_CPPFLAGS) $(LIBELF_CFLAGS) $(CAPSTONE_CFLAGS) $(AM_CFLAGS) \
		$(FUZZ_SANITIZE) -o $@ $(FUZZ_C_FILES) $(LIBELF_LIBS) $(CAPSTONE_LIBS)

tests/fuzz/fuzz-walk: $(srcdir)/tests/fuzz/fuzz-walk.c $(srcdir)/mmu-emu/walk.c $(srcdir)/mmu-emu/mmu.h
	@mkdir -p tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(AM_CPPFLAGS) $(AM_CFLAGS) $(FUZZ_SANITIZE) -o $@ \
		$(srcdir)/tests/fuzz/fuzz-walk.c $(srcdir)/mmu-emu/walk.c

tests/fuzz/fuzz-linuxboot: $(srcdir)/tests/fuzz/fuzz-linuxboot.c $(FUZZ_LINUX_C_FILES)
	@mkdir -p tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(AM_CPPFLAGS) $(AM_CFLAGS) $(FUZZ_SANITIZE) -o $@ \
		$(srcdir)/tests/fuzz/fuzz-linuxboot.c $(FUZZ_LINUX_C_FILES) $(LZMA_LIBS) \
		$(ZLIB_LIBS) $(ZSTD_LIBS)

# The card, the virtio transport and the option parser, with the harness's
# stand-ins for the machine's services.
FUZZ_VIRTIO_C_FILES = $(srcdir)/tests/fuzz/fuzz-virtio.c $(srcdir)/lightvm/virtio.c \
	$(srcdir)/lightvm/devices/virtio-net.c $(srcdir)/lightvm/devices.c $(srcdir)/lightvm/log.c \
	$(srcdir)/net-user/options.c
tests/fuzz/fuzz-virtio: $(FUZZ_VIRTIO_C_FILES) $(srcdir)/lightvm/virtio.h $(srcdir)/lightvm/device.h
	@mkdir -p tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(AM_CPPFLAGS) $(AM_CFLAGS) $(FUZZ_SANITIZE) -o $@ $(FUZZ_VIRTIO_C_FILES)

tests/fuzz/fuzz-sitetab: $(srcdir)/tests/fuzz/fuzz-sitetab.c $(srcdir)/lightvm/sitetab.c \
		$(srcdir)/lightvm/sitetab.h $(srcdir)/rewriter/sites.h
	@mkdir -p tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(AM_CPPFLAGS) $(LIBELF_CFLAGS) $(AM_CFLAGS) $(FUZZ_SANITIZE) -o $@ \
		$(srcdir)/tests/fuzz/fuzz-sitetab.c $(srcdir)/lightvm/sitetab.c $(LIBELF_LIBS)

fuzz: fuzz-elf fuzz-walk fuzz-linuxboot fuzz-virtio fuzz-sitetab

fuzz-sitetab: tests/fuzz/fuzz-sitetab tests/fuzz/seeds.stamp
	@mkdir -p tests/fuzz/corpus-sitetab tests/fuzz/artifacts
	tests/fuzz/fuzz-sitetab -max_total_time=$(FUZZ_WALK_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=$(FUZZ_TIMEOUT) -dict=$(srcdir)/tests/fuzz/elf.dict \
		-artifact_prefix=tests/fuzz/artifacts/sitetab- -print_final_stats=1 \
		tests/fuzz/corpus-sitetab tests/fuzz/seeds

fuzz-virtio: tests/fuzz/fuzz-virtio
	@mkdir -p tests/fuzz/corpus-virtio tests/fuzz/artifacts
	tests/fuzz/fuzz-virtio -max_total_time=$(FUZZ_WALK_SECONDS) -max_len=8192 -close_fd_mask=2 \
		-timeout=$(FUZZ_TIMEOUT) -artifact_prefix=tests/fuzz/artifacts/virtio- \
		-print_final_stats=1 tests/fuzz/corpus-virtio

fuzz-linuxboot: tests/fuzz/fuzz-linuxboot
	@mkdir -p tests/fuzz/corpus-linuxboot tests/fuzz/artifacts
	tests/fuzz/fuzz-linuxboot -max_total_time=$(FUZZ_WALK_SECONDS) -max_len=65536 \
		-timeout=$(FUZZ_TIMEOUT) -artifact_prefix=tests/fuzz/artifacts/linuxboot- \
		-print_final_stats=1 tests/fuzz/corpus-linuxboot

fuzz-walk: tests/fuzz/fuzz-walk
	@mkdir -p tests/fuzz/corpus-walk tests/fuzz/artifacts
	tests/fuzz/fuzz-walk -max_total_time=$(FUZZ_WALK_SECONDS) -max_len=4096 \
		-timeout=$(FUZZ_TIMEOUT) -use_value_profile=1 \
		-artifact_prefix=tests/fuzz/artifacts/walk- -print_final_stats=1 \
		tests/fuzz/corpus-walk

fuzz-elf: tests/fuzz/fuzz_elf tests/fuzz/seeds.stamp
	@mkdir -p tests/fuzz/corpus tests/fuzz/artifacts
	tests/fuzz/fuzz_elf -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=$(FUZZ_TIMEOUT) -dict=$(srcdir)/tests/fuzz/elf.dict \
		-artifact_prefix=tests/fuzz/artifacts/ -print_final_stats=1 \
		tests/fuzz/corpus tests/fuzz/seeds
else
fuzz fuzz-elf fuzz-walk fuzz-linuxboot fuzz-virtio fuzz-sitetab:
	@echo "make fuzz: clang not found: install the Debian packages clang and libclang-rt-dev" >&2
	@exit 1
endif
.PHONY: fuzz fuzz-elf fuzz-walk fuzz-linuxboot fuzz-virtio fuzz-sitetab

CLEANFILES += tests/fuzz/fuzz_elf tests/fuzz/fuzz-walk tests/fuzz/fuzz-linuxboot tests/fuzz/fuzz-virtio tests/fuzz/fuzz-sitetab tests/fuzz/seed.elf tests/fuzz/seed-stripped.elf \
	tests/fuzz/seeds.stamp
EXTRA_DIST += tests/fuzz/fuzz_elf.c tests/fuzz/fuzz-walk.c tests/fuzz/fuzz-linuxboot.c tests/fuzz/fuzz-virtio.c tests/fuzz/fuzz-sitetab.c tests/fuzz/seed.S tests/fuzz/elf.dict
