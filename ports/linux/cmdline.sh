# cmdline.sh - sourced: GUEST_CMDLINE, the kernel command line the tests and
# benchmarks boot the bundled Linux guest with (ports/linux/mkguest.sh),
# under QEMU and under lilyvm alike.
#
# One variable for both VMs, so that both kernels take the same paths and
# their outputs stay comparable. Each option is there for the monitor, and
# QEMU gets it too:
#   console=ttyS0   the 16550 at 0x3f8 is the only console the monitor has.
#   reservetop=1M   the top 1 MiB of a 32-bit address space belongs to the
#                   monitor (lightvm/child.h: trampolines, vCPU, scratch and
#                   stub pages, and the host's TASK_SIZE limit); the kernel
#                   moves its fixmap below (rounded to 4 MiB: "Reserving
#                   virtual address space above 0xfff00000 (rounded to
#                   0xffc00000)").
#   nokaslr         the monitor loads the unpacked vmlinux at its link address
#                   and never runs the bzImage decompressor that would move
#                   it; QEMU runs that decompressor, so it is told not to.
#                   (The kernel proper does not know the option and passes it
#                   to /init as an argument, which /init ignores.)
#   acpi=off        there is no BIOS and so no ACPI tables under the monitor;
#                   without ACPI QEMU's kernel also finds no HPET and no ACPI
#                   PM timer, and `poweroff` halts ("reboot: System halted",
#                   cli; hlt) instead of writing the PIIX4 PM1a register.
#   nolapic         no local APIC, hence no IO-APIC either: interrupts go
#                   through the 8259 PICs and the tick is the PIT's, which is
#                   what the monitor models.
#   pci=nobios      probe PCI with configuration mechanism 1 only, never by
#                   calling a PCI BIOS (QEMU's SeaBIOS has one, the monitor
#                   has none).
#   pnpbios=off     likewise never call a PnP BIOS.
#   noisapnp        no ISA PnP isolation: 0.4 s of port I/O and delays in
#                   QEMU, thousands of trapped port accesses in the monitor.
#   mitigations=off which speculation mitigations the kernel applies depends
#                   on the CPU it sees (QEMU's qemu32 model, the host's CPU
#                   under the monitor), and some of them touch MSRs on every
#                   context switch; off, both kernels patch and run the same
#                   code.
#   tsc=reliable    no clocksource watchdog on the TSC: the monitor's TSC is
#                   the host's own, and the watchdog's reference would be the
#                   PIT (three trapped port accesses a read, twice a second),
#                   which a loaded host delays until the kernel declares the
#                   TSC unstable and falls back to the PIT for all its time
#                   keeping. QEMU TCG on a loaded host does the same, and
#                   its warning lands in the middle of the transcript.
#   panic=-1        reboot at once on a panic: QEMU (-no-reboot) and the
#                   monitor then exit, and the run fails fast instead of
#                   waiting for the timeout.
# shellcheck disable=SC2034  # used by the scripts that source this file
GUEST_CMDLINE="console=ttyS0 reservetop=1M nokaslr acpi=off nolapic pci=nobios pnpbios=off noisapnp mitigations=off tsc=reliable panic=-1"
