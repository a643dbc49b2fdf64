/*
 * guest.h - the little runtime every micro-guest links: port I/O, a COM1
 * console, descriptor tables, the PIC and PIT, traps and power-off. The same
 * binary runs under qemu-system-i386 and, rewritten, under lilyvm.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define VEC_IRQ0 0x20
#define VEC_SYSCALL 0x80
#define VEC_SPARE1 0x81		/* free software vectors for the guests' own use */
#define VEC_SPARE2 0x82
#define PIC1 0x20
#define PIC2 0xa0
#define COM1 0x3f8

/* What isr_common pushes, lowest address first. */
struct trap_frame {
	uint32_t es, ds;
	uint32_t edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
	uint32_t user_esp, user_ss;	/* only when the trap came from ring 3 */
};

typedef void (*trap_handler)(struct trap_frame *f);

/* An IDT gate descriptor. */
struct gate {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));

/* The operand of lgdt/lidt/sgdt/sidt. */
struct table_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

/* The start of the Multiboot information structure (flags bit 2: cmdline valid). */
struct multiboot_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* Set up COM1, GDT, TSS and IDT, every IRQ masked; every vector goes to guest_trap(). */
void guest_init(void);
/* Print formatted text on COM1 (%d %u %x %s %c). */
void gprintf(const char *fmt, ...);
/* Route vector vec to handler h. */
void set_handler(unsigned vec, trap_handler h);
/* Let ring 3 raise vector vec with int n. */
void allow_user_int(unsigned vec);
/* Make vector vec a trap gate: its handler runs with IF as it was. */
void set_trap_gate(unsigned vec);
/* Make entries from ring 3 switch to the stack ending at top (TSS esp0). */
void set_kernel_stack(void *top);
/* Remap the PICs to VEC_IRQ0 and unmask only the IRQs in mask. */
void pic_init(uint16_t unmasked);
/* Acknowledge an IRQ at the PIC(s). */
void pic_eoi(unsigned irq);
/* Change the PICs' masks to unmask only the IRQs in mask (pending requests stay). */
void pic_mask(uint16_t unmasked);
/* Read both PICs' IRR (isr=0) or ISR (isr=1) through OCW3; the slave's is the high byte. */
uint16_t pic_read(int isr);
/* Read register reg of the CMOS RTC. */
uint8_t cmos_read(unsigned reg);
/* Write v to register reg of the CMOS RTC. */
void cmos_write(unsigned reg, uint8_t v);
/* Program PIT channel 0 as a rate generator at hz. */
void pit_init(unsigned hz);
/* Run fn in ring 3 on stack top; returns when ring 3 raises VEC_SYSCALL with eax=0. */
void run_user(void (*fn)(void), void *stack_top);
/* Set GDT entry idx (1..15) to a segment descriptor. */
void gdt_set(unsigned idx, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
/* Print "ok N - name" or "not ok N - name" (TAP), numbering checks from 1. */
void check(int passed, const char *name);
/* Print the TAP plan "1..N" for the checks made so far and power off. */
void __attribute__((noreturn)) finish(void);
/* Power the machine off: the ACPI S5 write QEMU's PIIX4 and lilyvm both honour. */
void __attribute__((noreturn)) poweroff(void);

/* The value of "key=" among the space-separated words of cmdline, or NULL. */
const char *cmdline_arg(const char *cmdline, const char *key);
/* True if the word at s (ended by a space or the end) is word. */
int cmdline_word_is(const char *s, const char *word);
/* The decimal number at s (digits until the first non-digit). */
uint32_t parse_uint(const char *s);
/* Point vector vec straight at an assembly handler (no isr_common), callable from ring dpl. */
void set_raw_gate(unsigned vec, void (*handler)(void), unsigned dpl);

/* Called by isr_common for every trap and interrupt. */
void guest_trap(struct trap_frame *f);
/* Each guest defines its entry point. */
void guest_main(uint32_t magic, void *mbi);

#endif
