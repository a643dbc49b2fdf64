# tests/guests/: multiboot micro-guests, built with the host compiler in
# 32-bit freestanding mode (configure checked that it can). Each guest runs
# under qemu-system-i386 and, rewritten, under lilyvm (compare.sh).
GUEST_LINK_FLAGS = -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
	-T $(srcdir)/tests/guests/lib/guest.ld
GUEST_RUNTIME = $(srcdir)/tests/guests/lib/boot.S $(srcdir)/tests/guests/lib/isr.S \
	$(srcdir)/tests/guests/lib/user.S $(srcdir)/tests/guests/lib/guest.c
GUEST_DEPS = $(GUEST_RUNTIME) $(srcdir)/tests/guests/lib/guest.h \
	$(srcdir)/tests/guests/lib/guest.ld
GUEST_LINK = $(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) $(GUEST_RUNTIME)
MICRO_GUESTS = tests/guests/demo/demo.elf tests/guests/exceptions/exceptions.elf \
	tests/guests/iflag/iflag.elf tests/guests/pic/pic.elf tests/guests/pit/pit.elf \
	tests/guests/uart/uart.elf tests/guests/descriptors/descriptors.elf tests/guests/rings/rings.elf

tests/guests/demo/demo.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/demo/demo.c
	@mkdir -p tests/guests/demo
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/demo/demo.c

tests/guests/exceptions/exceptions.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/exceptions/exceptions.c
	@mkdir -p tests/guests/exceptions
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/exceptions/exceptions.c

tests/guests/iflag/iflag.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/iflag/iflag.c
	@mkdir -p tests/guests/iflag
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/iflag/iflag.c

tests/guests/pic/pic.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/pic/pic.c
	@mkdir -p tests/guests/pic
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/pic/pic.c

tests/guests/pit/pit.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/pit/pit.c
	@mkdir -p tests/guests/pit
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/pit/pit.c

tests/guests/uart/uart.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/uart/uart.c
	@mkdir -p tests/guests/uart
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/uart/uart.c

tests/guests/descriptors/descriptors.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/descriptors/descriptors.c
	@mkdir -p tests/guests/descriptors
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/descriptors/descriptors.c

tests/guests/rings/rings.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/rings/rings.c
	@mkdir -p tests/guests/rings
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/rings/rings.c

tests/guests/hostile/hostile.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/hostile/hostile.c
	@mkdir -p tests/guests/hostile
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/hostile/hostile.c

# The benchmark guest (bench/traps.sh, `make bench-traps`): not a test.
tests/guests/bench/bench.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/bench/bench.c \
		$(srcdir)/tests/guests/bench/cpuwork.h
	@mkdir -p tests/guests/bench
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/bench/bench.c

tests/guests/triple/triple.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/triple/triple.c
	@mkdir -p tests/guests/triple
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/triple/triple.c

check_DATA += $(MICRO_GUESTS) tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf
TESTS += tests/guests/hostile.sh tests/guests/triple.sh
TESTS += $(MICRO_GUESTS)
TEST_EXTENSIONS += .elf
ELF_LOG_COMPILER = $(SHELL) $(srcdir)/tests/guests/compare.sh
CLEANFILES += $(MICRO_GUESTS) tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf
EXTRA_DIST += $(GUEST_DEPS) tests/guests/compare.sh tests/guests/hostile.sh \
	tests/guests/triple.sh tests/guests/triple/triple.c \
	tests/guests/hostile/hostile.c tests/guests/demo/demo.c \
	tests/guests/exceptions/exceptions.c tests/guests/iflag/iflag.c tests/guests/pic/pic.c \
	tests/guests/pit/pit.c tests/guests/uart/uart.c tests/guests/descriptors/descriptors.c \
	tests/guests/rings/rings.c
