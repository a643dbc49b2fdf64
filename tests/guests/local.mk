# tests/guests/: multiboot micro-guests, built with the host compiler in
# 32-bit freestanding mode (configure checked that it can). Each guest in
# MICRO_GUESTS is a test: compare.sh runs it under qemu-system-i386 and,
# rewritten, under lilyvm, and the two must print the same lines.
GUEST_LINK_FLAGS = -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
	-T $(srcdir)/tests/guests/lib/guest.ld
GUEST_RUNTIME = $(srcdir)/tests/guests/lib/boot.S $(srcdir)/tests/guests/lib/isr.S \
	$(srcdir)/tests/guests/lib/user.S $(srcdir)/tests/guests/lib/guest.c
GUEST_DEPS = $(GUEST_RUNTIME) $(srcdir)/tests/guests/lib/guest.h \
	$(srcdir)/tests/guests/lib/guest.ld
MICRO_GUESTS = tests/guests/demo/demo.elf tests/guests/exceptions/exceptions.elf \
	tests/guests/iflag/iflag.elf tests/guests/pic/pic.elf tests/guests/pit/pit.elf \
	tests/guests/uart/uart.elf tests/guests/descriptors/descriptors.elf tests/guests/rings/rings.elf \
	tests/guests/usertls/usertls.elf tests/guests/fpu/fpu.elf tests/guests/rtc/rtc.elf
# Guests with a script of their own, and the benchmark guest (bench/traps.sh).
OTHER_GUESTS = tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf \
	tests/guests/callgate/callgate.elf tests/guests/abuse/abuse.elf \
	tests/guests/bench/bench.elf tests/guests/mmubench/mmubench.elf

# Every guest NAME/NAME.elf is the runtime linked with NAME/NAME.c.
$(MICRO_GUESTS) $(OTHER_GUESTS): $(GUEST_DEPS)
	@mkdir -p $(@D)
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) -o $@ $(GUEST_RUNTIME) \
		$(srcdir)/$(@:.elf=.c)
tests/guests/demo/demo.elf: $(srcdir)/tests/guests/demo/demo.c
tests/guests/exceptions/exceptions.elf: $(srcdir)/tests/guests/exceptions/exceptions.c
tests/guests/iflag/iflag.elf: $(srcdir)/tests/guests/iflag/iflag.c
tests/guests/pic/pic.elf: $(srcdir)/tests/guests/pic/pic.c
tests/guests/pit/pit.elf: $(srcdir)/tests/guests/pit/pit.c
tests/guests/uart/uart.elf: $(srcdir)/tests/guests/uart/uart.c
tests/guests/descriptors/descriptors.elf: $(srcdir)/tests/guests/descriptors/descriptors.c
tests/guests/rings/rings.elf: $(srcdir)/tests/guests/rings/rings.c
tests/guests/usertls/usertls.elf: $(srcdir)/tests/guests/usertls/usertls.c
tests/guests/fpu/fpu.elf: $(srcdir)/tests/guests/fpu/fpu.c
tests/guests/rtc/rtc.elf: $(srcdir)/tests/guests/rtc/rtc.c
tests/guests/hostile/hostile.elf: $(srcdir)/tests/guests/hostile/hostile.c
tests/guests/triple/triple.elf: $(srcdir)/tests/guests/triple/triple.c
tests/guests/callgate/callgate.elf: $(srcdir)/tests/guests/callgate/callgate.c
tests/guests/abuse/abuse.elf: $(srcdir)/tests/guests/abuse/abuse.c
tests/guests/bench/bench.elf: $(srcdir)/tests/guests/bench/bench.c \
	$(srcdir)/tests/guests/bench/cpuwork.h
tests/guests/mmubench/mmubench.elf: $(srcdir)/tests/guests/mmubench/mmubench.c

# Guests of the MMU: the runtime plus lib/paging.c, so a rule of their own;
# compared with QEMU by compare.sh like MICRO_GUESTS.
PAGING_GUESTS = tests/guests/pgfault/pgfault.elf tests/guests/accdirty/accdirty.elf \
	tests/guests/bigpages/bigpages.elf tests/guests/aspaces/aspaces.elf \
	tests/guests/pgfault-pae/pgfault-pae.elf tests/guests/accdirty-pae/accdirty-pae.elf \
	tests/guests/aspaces-pae/aspaces-pae.elf \
	tests/guests/wildpt/wildpt.elf \
	tests/guests/pfretry/pfretry.elf
# A paging guest with a script of its own (pftriple.sh), not compare.sh.
PAGING_OTHER_GUESTS = tests/guests/pftriple/pftriple.elf
PAGING_RUNTIME = $(GUEST_RUNTIME) $(srcdir)/tests/guests/lib/paging.c
PAGING_DEPS = $(GUEST_DEPS) $(srcdir)/tests/guests/lib/paging.c $(srcdir)/tests/guests/lib/paging.h
$(PAGING_GUESTS) $(PAGING_OTHER_GUESTS): $(PAGING_DEPS)
	@mkdir -p $(@D)
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) -o $@ $(PAGING_RUNTIME) \
		$(srcdir)/$(@:.elf=.c)
tests/guests/pgfault/pgfault.elf: $(srcdir)/tests/guests/pgfault/pgfault.c
tests/guests/pfretry/pfretry.elf: $(srcdir)/tests/guests/pfretry/pfretry.c
tests/guests/accdirty/accdirty.elf: $(srcdir)/tests/guests/accdirty/accdirty.c
tests/guests/bigpages/bigpages.elf: $(srcdir)/tests/guests/bigpages/bigpages.c
tests/guests/aspaces/aspaces.elf: $(srcdir)/tests/guests/aspaces/aspaces.c
tests/guests/pgfault-pae/pgfault-pae.elf: $(srcdir)/tests/guests/pgfault-pae/pgfault-pae.c
tests/guests/accdirty-pae/accdirty-pae.elf: $(srcdir)/tests/guests/accdirty-pae/accdirty-pae.c
tests/guests/aspaces-pae/aspaces-pae.elf: $(srcdir)/tests/guests/aspaces-pae/aspaces-pae.c
tests/guests/wildpt/wildpt.elf: $(srcdir)/tests/guests/wildpt/wildpt.c
tests/guests/pftriple/pftriple.elf: $(srcdir)/tests/guests/pftriple/pftriple.c

check_DATA += $(MICRO_GUESTS) tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf \
	tests/guests/callgate/callgate.elf tests/guests/abuse/abuse.elf tests/guests/bench/bench.elf
check_DATA += $(PAGING_GUESTS) $(PAGING_OTHER_GUESTS)
TESTS += $(PAGING_GUESTS)
TESTS += $(MICRO_GUESTS) tests/guests/hostile.sh tests/guests/triple.sh tests/guests/unemulated.sh \
	tests/guests/abuse.sh tests/guests/pftriple.sh
TEST_EXTENSIONS += .elf
ELF_LOG_COMPILER = $(SHELL) $(srcdir)/tests/guests/compare.sh
CLEANFILES += $(MICRO_GUESTS) $(OTHER_GUESTS) $(PAGING_GUESTS) $(PAGING_OTHER_GUESTS)
EXTRA_DIST += $(GUEST_DEPS) tests/guests/lib/unprivileged.sh tests/guests/compare.sh tests/guests/hostile.sh \
	tests/guests/triple.sh tests/guests/unemulated.sh tests/guests/callgate/callgate.c \
	tests/guests/abuse.sh tests/guests/abuse/abuse.c \
	tests/guests/demo/demo.c tests/guests/exceptions/exceptions.c \
	tests/guests/iflag/iflag.c tests/guests/pic/pic.c tests/guests/pit/pit.c \
	tests/guests/uart/uart.c tests/guests/descriptors/descriptors.c \
	tests/guests/rings/rings.c tests/guests/usertls/usertls.c tests/guests/fpu/fpu.c \
	tests/guests/rtc/rtc.c \
	tests/guests/hostile/hostile.c tests/guests/triple/triple.c \
	tests/guests/bench/bench.c tests/guests/bench/cpuwork.h \
	tests/guests/lib/paging.c tests/guests/lib/paging.h \
	tests/guests/pgfault/pgfault.c tests/guests/pfretry/pfretry.c tests/guests/accdirty/accdirty.c \
	tests/guests/bigpages/bigpages.c tests/guests/aspaces/aspaces.c \
	tests/guests/pgfault-pae/pgfault-pae.c tests/guests/accdirty-pae/accdirty-pae.c \
	tests/guests/aspaces-pae/aspaces-pae.c \
	tests/guests/wildpt/wildpt.c tests/guests/pftriple.sh tests/guests/pftriple/pftriple.c
