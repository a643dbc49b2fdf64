# lightvm/: the monitor, `lilyvm`.
noinst_PROGRAMS += lightvm/stub.elf
lightvm_stub_elf_SOURCES = lightvm/stub.S
lightvm_stub_elf_CCASFLAGS = -m32
lightvm_stub_elf_LDFLAGS = -m32 -nostdlib -static -Wl,--build-id=none \
	-Wl,-T,$(srcdir)/lightvm/stub.ld
EXTRA_lightvm_stub_elf_DEPENDENCIES = $(srcdir)/lightvm/stub.ld

bin_PROGRAMS += lightvm/lilyvm
lightvm_lilyvm_SOURCES = lightvm/main.c lightvm/lightvm.h lightvm/vm.h lightvm/vm.c \
	lightvm/run.c lightvm/cpu.h lightvm/cpu.c lightvm/emulate.h lightvm/emulate.c \
	lightvm/alu.h lightvm/alu.c \
	lightvm/child.h lightvm/child.c lightvm/guestmem.c lightvm/paging.h lightvm/paging.c lightvm/linux.h lightvm/linux.c lightvm/sitetab.h lightvm/sitetab.c \
	lightvm/symbols.h lightvm/symbols.c lightvm/console.c lightvm/report.c \
	lightvm/crash.h lightvm/crash.c lightvm/log.h lightvm/log.c lightvm/device.h \
	lightvm/stub_blob.S ports/multiboot/multiboot.h ports/multiboot/multiboot.c \
	lightvm/net.h lightvm/net.c $(LIGHTVM_DEVICE_SOURCES) $(NET_USER_SOURCES)
lightvm_lilyvm_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(CAPSTONE_CFLAGS) $(LIBUNWIND_CFLAGS) \
	$(SLIRP_CFLAGS)
lightvm_lilyvm_CCASFLAGS = -Wa,-I.
lightvm_lilyvm_LDADD = mmu-emu/libmmu.a $(LINUXBOOT_LIBS) $(LIBELF_LIBS) $(CAPSTONE_LIBS) $(LIBUNWIND_LOCAL_LIBS) \
	$(SLIRP_LIBS)
EXTRA_lightvm_lilyvm_DEPENDENCIES = lightvm/stub.elf
EXTRA_DIST += lightvm/stub.ld lightvm/README.md ports/multiboot/README.md

# stub_blob.S includes the stub's bytes: build the stub first.
lightvm/lilyvm-stub_blob.$(OBJEXT): lightvm/stub.elf
