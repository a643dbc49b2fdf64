/*
 * vm.h - the monitor's internal view of one virtual machine: guest RAM,
 * the virtual CPU, the child it runs in, devices, the event loop.
 */
#ifndef LIGHTVM_VM_H
#define LIGHTVM_VM_H

#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <sys/user.h>

#include <capstone/capstone.h>

#include "lightvm/child.h"
#include "lightvm/device.h"
#include "lightvm/lightvm.h"
#include "lightvm/sitetab.h"
#include "rewriter/sites.h"

enum seg_reg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* A segment register: the guest's selector and descriptor cache, and the host's. */
struct seg {
	uint16_t sel;
	uint32_t base, limit;	/* limit in bytes, granularity applied */
	uint16_t attr;		/* access byte (bits 0-7) and flags nibble (bits 12-15) */
	uint16_t host_sel;	/* what the child's register holds */
};

struct dtr {
	uint32_t base;
	uint16_t limit;
};

/* EFLAGS bits the guest owns but the host must not see. */
#define FL_CF 0x1u
#define FL_TF 0x100u
#define FL_IF 0x200u
#define FL_DF 0x400u
#define FL_IOPL 0x3000u
#define FL_NT 0x4000u
#define FL_RF 0x10000u
#define FL_VM 0x20000u
#define FL_AC 0x40000u
#define FL_ID 0x200000u
#define FL_ZF 0x40u
#define FL_OF 0x800u
#define FL_HOST 0x8d5u		/* CF PF AF ZF SF DF OF: run natively */
#define FL_VIRTUAL (FL_TF | FL_IF | FL_IOPL | FL_NT | FL_AC | FL_ID)

struct cpu {
	struct user_regs_struct regs;	/* general registers, valid while stopped */
	uint32_t vflags;	/* the FL_VIRTUAL bits of the guest's EFLAGS */
	struct seg seg[SEG_COUNT];
	struct seg ldtr, tr;
	struct dtr gdtr, idtr;
	uint32_t cr0, cr2, cr3, cr4, xcr0;
	uint64_t efer;		/* only NXE can be set */
	uint32_t dr[8];
	unsigned cpl;
	int inhibit;		/* interrupts held off for one instruction (sti, mov ss) */
	uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
	int nm_armed;		/* CR0.TS was set: #NM due before ring 3 runs (cpu_set_cr0) */
	int pf_pending;		/* the last guest memory access met a #PF (guestmem.c) */
	uint32_t pf_err;	/* its error code; CR2 holds its address */
};

/* Trap accounting for --stats. */
enum stat_kind { STAT_SITE, STAT_MISS, STAT_SYSCALL, STAT_EXCEPTION, STAT_IRQ, STAT_HALT,
		 STAT_KICK, STAT_PAGE_FAULT, STAT_PV_EXIT, STAT_AHEAD, STAT_AHEAD_SITE, STAT_KINDS };

struct stats {
	uint64_t count[STAT_KINDS], ns[STAT_KINDS];
	uint64_t views_made, views_reused;	/* guest processes started, emptied for reuse */
	uint64_t site_count[LILYVM_CLS_COUNT], site_ns[LILYVM_CLS_COUNT];
};

struct watch {
	int fd;
	void (*fn)(void *opaque);
	void *opaque;
};

struct symtab;
struct decoded;
struct device_set;
struct mmu_space;

#define LDT_SLOTS 8192		/* host LDT entries the guest's segments are shadowed in */
#define MAX_VIEWS 64		/* guest processes kept (paging.c) */

/* VIEW_FLAT_USER: paging off in ring 3, kept apart only to hide the trampolines. */
enum view_kind { VIEW_NONE, VIEW_FLAT, VIEW_KERNEL, VIEW_USER, VIEW_FLAT_USER };

/* One child process and what it shows of the guest (paging.c). */
struct view {
	struct child *child;
	struct mmu_space *space;	/* what it maps */
	uint8_t *scratch;	/* its scratch page, in the monitor */
	enum view_kind kind;	/* paging off, or CR3's space for ring 0 or ring 3 */
	int pv_mapped;		/* the trampolines and the vCPU page are mapped (not in ring 3) */
	uint8_t *mapped_bits;	/* vm.pv_mapped, where its mappings are noted */
	uint32_t cr3;
	uint64_t tlb_gen;	/* vm.tlb_gen when last checked against the guest's tables */
	uint64_t used;		/* when last run, for reuse */
	uint64_t ldt_shadow[LDT_SLOTS];	/* descriptors written into its host LDT (cpu.c) */
};

/*
 * The RAM memfd: guest RAM, then the junk page (mapped where page tables
 * point outside RAM), one scratch page per view, the vCPU page and the
 * trampolines (sites.h); offsets from the end of guest RAM.
 */
#define RAM_JUNK_OFF 0
#define RAM_SCRATCH_OFF(slot) (4096 * (1 + (uint64_t)(slot)))
#define RAM_PV_VCPU_OFF RAM_SCRATCH_OFF(MAX_VIEWS)
#define RAM_PV_MAPPED_OFF (RAM_PV_VCPU_OFF + 4096)
#define RAM_PV_CODE_OFF (RAM_PV_MAPPED_OFF + LILYVM_PV_MAPPED_SIZE)
#define RAM_EXTRA (RAM_PV_CODE_OFF + LILYVM_PV_CODE_MAX)

#define MAX_WATCH 32
#define MAX_TIMERS 16
#define MAX_POLL_SOURCES 4
#define MAX_POLL_FDS 1024	/* descriptors of all poll sources together */
#define MAX_COUNTERS 64

/* A poll source (device.h) and whether the poll being built includes it. */
struct poll_src {
	const struct poll_source_ops *ops;
	void *opaque;
};

/* A device event count for --stats (vm_count). */
struct counter {
	const char *name;
	uint64_t n;
};

#define MAX_SEGS 8

/* A segment of the kernel image linked at vaddr but loaded at paddr (a kernel linked high). */
struct image_seg {
	uint32_t vaddr, paddr, memsz;
};

struct vm {
	struct lvm_config cfg;
	struct image_seg segs[MAX_SEGS];
	unsigned n_segs;
	uint64_t ram_bytes;
	int ram_fd;
	uint8_t *ram;		/* guest physical RAM, mapped in the monitor */
	uint32_t ram_va_start;	/* lowest guest address the child can map */
	struct view *views[MAX_VIEWS];
	unsigned n_views;
	uint64_t tlb_gen, view_clock;	/* CR3 writes; view uses */
	struct view *view;	/* the one the guest runs in; the next four are its */
	struct child *child;
	struct mmu_space *space;
	uint8_t *scratch;
	uint64_t *ldt_shadow;
	uint32_t last_fault_lin, last_fault_eip;	/* to catch a fault that repeats */
	unsigned last_fault_access, fault_repeats;
	const struct view *last_fault_view;
	uint64_t stops, last_fault_stop;	/* stops handled; the one of the last fault */
	uint32_t retry_lin;	/* a ring 3 access its #PF handler may have made possible */
	unsigned retry_access;
	uint32_t retry_eip;	/* the ring 3 instruction that made it */
	struct cpu cpu;
	csh cs;			/* capstone with operand detail, for emulation */
	cs_insn *insn;		/* its decode buffer */
	struct decoded *decoded;	/* instructions decoded before, by EIP (emulate.c) */
	struct lilyvm_site *sites;
	struct pv_table pv;	/* the image's trampolines, if any */
	uint8_t *ahead;		/* per site, and after a delivery: did running ahead pay (run.c) */
	uint64_t deliveries;	/* exceptions and interrupts delivered so far (cpu.c) */
	struct lilyvm_pv_vcpu *pv_vcpu;	/* the vCPU page they share, in the RAM memfd */
	uint8_t *pv_mapped;	/* the bitmap of pages any view may have mapped (sites.h) */
	size_t n_sites;
	struct symtab *syms;
	struct device_set *devs;
	const struct intc_ops *intc_ops;
	void *intc;
	timer_t alarm;		/* SIGALRM at the earliest device timer (vm.c) */
	int have_alarm;
	struct watch watch[MAX_WATCH];
	struct vm_timer *timers[MAX_TIMERS];
	size_t n_watch;
	struct poll_src sources[MAX_POLL_SOURCES];
	size_t n_sources;
	struct counter counters[MAX_COUNTERS];
	size_t n_counters;
	struct pci_function *pci[PCI_MAX_SLOTS];
	const struct net_backend_ops *net_ops;	/* --net, or NULL (net.c) */
	void *net_be;
	void (*nic_receive)(void *nic, const uint8_t *frame, size_t len);
	void *nic;
	int stop;		/* 1: power-off, 2: reset, 3: error */
	int unsupported;	/* the error is something not emulated yet */
	char stop_reason[512];
	struct stats stats;
	int console_in, console_out;
};

/* Host pointer to guest-physical [gpa, gpa+len), or NULL if any of it is not RAM. */
void *gpa_ptr(struct vm *vm, uint64_t gpa, size_t len);
/* Copy len bytes from guest linear address lin at the CPL; -1 after recording a #PF (cpu.pf_*). */
int guest_read(struct vm *vm, uint32_t lin, void *buf, size_t len);
/* Copy len bytes to guest linear address lin at the CPL; -1 after recording a #PF. */
int guest_write(struct vm *vm, uint32_t lin, const void *buf, size_t len);
/* guest_read as an implicit supervisor access (descriptor tables, the TSS). */
int guest_read_sys(struct vm *vm, uint32_t lin, void *buf, size_t len);
/* guest_write as an implicit supervisor access. */
int guest_write_sys(struct vm *vm, uint32_t lin, const void *buf, size_t len);

/* Read a whole regular file into a new buffer; NULL with a one-line err. */
uint8_t *vm_read_file(const char *path, size_t *len, char *err, size_t errlen);
/* Take the site table and symbols of a rewritten kernel image; -1 (with how to rewrite it) if none. */
int vm_adopt_image(struct vm *vm, const uint8_t *image, size_t len, const char *name, char *err,
		   size_t errlen);
/* The address the image is linked at for addr, which may be where it was loaded (paging off). */
uint32_t vm_link_address(const struct vm *vm, uint32_t addr);
/* "symbol+offset" for a guest code address, for messages. */
const char *vm_symbol(const struct vm *vm, uint32_t addr, char *buf, size_t len);
/* Wait for the running child to stop, serving host events meanwhile. */
int vm_wait_child(struct vm *vm, struct child_event *ev);
/* Serve host events until an interrupt is deliverable (hlt); -1 if none can ever come. */
int vm_wait_interrupt(struct vm *vm);
/* True if the interrupt controller holds an interrupt for the CPU. */
int vm_irq_pending(struct vm *vm);
/* Stop the machine with a reason (one line, no newline). */
void vm_fail(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stop it because the guest needs something the monitor does not emulate yet. */
void vm_unsupported(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Connect COM1 to the terminal, a pseudo-terminal or a file, as cfg.serial says. */
int lvm_open_console(struct vm *vm, char *err, size_t errlen);
/* Restore the terminal and close the console. */
void lvm_close_console(struct vm *vm);
/* Count one trap of kind (and site class cls) that took ns. */
void vm_account(struct vm *vm, enum stat_kind kind, unsigned cls, uint64_t ns);

#endif
