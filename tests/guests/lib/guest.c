/*
 * guest.c - the micro-guest runtime (see guest.h). Deliberately plain
 * hardware programming, so that it behaves the same on QEMU and lilyvm.
 */
#include <stdarg.h>

#include "guest.h"

#define PIT_HZ 1193182u
#define ACPI_PM1A_CNT 0x604
#define ACPI_SLP_S5 0x2000

struct tss {
	uint32_t link, esp0, ss0, rest[23];
} __attribute__((packed));

static uint64_t gdt[16];
static unsigned checks;
static struct gate idt[256];
static struct tss tss;
static trap_handler handlers[256];
static uint8_t trap_stack[8192] __attribute__((aligned(16)));

extern const uint32_t isr_table[];

static uint64_t segment(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO on, cleared */
	outb(COM1 + 4, 0x0b);
}

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

static void put_uint(uint32_t v, unsigned base)
{
	char buf[12];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		serial_putc(buf[--n]);
}

void gprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		switch (*++fmt) {
		case 'd': {
			int v = va_arg(ap, int);
			if (v < 0) {
				serial_putc('-');
				v = -v;
			}
			put_uint(v, 10);
			break;
		}
		case 'u': put_uint(va_arg(ap, uint32_t), 10); break;
		case 'x': put_uint(va_arg(ap, uint32_t), 16); break;
		case 'c': serial_putc(va_arg(ap, int)); break;
		case 's': for (const char *s = va_arg(ap, const char *); *s; s++) serial_putc(*s); break;
		default: serial_putc(*fmt); break;
		}
	}
	va_end(ap);
}

static void set_gate(unsigned vec, uint32_t off, unsigned dpl)
{
	idt[vec] = (struct gate){ off & 0xffff, SEL_KCODE, 0, 0x8e | dpl << 5, off >> 16 };
}

static void load_tables(void)
{
	struct table_ptr g = { sizeof(gdt) - 1, (uint32_t)gdt };
	struct table_ptr i = { sizeof(idt) - 1, (uint32_t)idt };

	__asm__ volatile("lgdt %0\n\t"
			 "ljmp %1, $1f\n1:\n\t"
			 "mov %2, %%ds\n\tmov %2, %%es\n\tmov %2, %%ss\n\t"
			 "mov %2, %%fs\n\tmov %2, %%gs"
			 :: "m"(g), "i"(SEL_KCODE), "r"(SEL_KDATA) : "memory");
	__asm__ volatile("lidt %0" :: "m"(i));
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
}

void guest_init(void)
{
	serial_init();
	gdt[1] = segment(0, 0xfffff, 0x9a, 0xc);
	gdt[2] = segment(0, 0xfffff, 0x92, 0xc);
	gdt[3] = segment(0, 0xfffff, 0xfa, 0xc);
	gdt[4] = segment(0, 0xfffff, 0xf2, 0xc);
	gdt[5] = segment((uint32_t)&tss, sizeof(tss) - 1, 0x89, 0);
	tss.ss0 = SEL_KDATA;
	tss.esp0 = (uint32_t)(trap_stack + sizeof(trap_stack));
	for (const uint32_t *e = isr_table; e[0] != 0xffffffff; e += 2)
		set_gate(e[0], e[1], 0);
	load_tables();
	pic_init(0);	/* a BIOS may have left IRQ0 unmasked at vector 8, a CPU exception's */
}

void gdt_set(unsigned idx, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	gdt[idx & 15] = segment(base, limit, access, flags);
}

void check(int passed, const char *name)
{
	gprintf("%sok %u - %s\n", passed ? "" : "not ", ++checks, name);
}

void finish(void)
{
	gprintf("1..%u\n", checks);
	poweroff();
}

void set_handler(unsigned vec, trap_handler h)
{
	handlers[vec & 0xff] = h;
}

void allow_user_int(unsigned vec)
{
	idt[vec].type |= 3 << 5;
}

void set_trap_gate(unsigned vec)
{
	idt[vec].type |= 1;
}

void set_kernel_stack(void *top)
{
	tss.esp0 = (uint32_t)top;
}

void guest_trap(struct trap_frame *f)
{
	if (handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	gprintf("not ok - unexpected vector %u error %x at %x\n", f->vector, f->error, f->eip);
	poweroff();
}

void pic_init(uint16_t unmasked)
{
	outb(PIC1, 0x11);
	outb(PIC2, 0x11);
	outb(PIC1 + 1, VEC_IRQ0);
	outb(PIC2 + 1, VEC_IRQ0 + 8);
	outb(PIC1 + 1, 4);	/* slave on IRQ2 */
	outb(PIC2 + 1, 2);
	outb(PIC1 + 1, 1);	/* 8086 mode */
	outb(PIC2 + 1, 1);
	pic_mask(unmasked);
}

void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(PIC2, 0x20);
	outb(PIC1, 0x20);
}

void pic_mask(uint16_t unmasked)
{
	outb(PIC1 + 1, ~unmasked & 0xff);
	outb(PIC2 + 1, ~unmasked >> 8);
}

uint16_t pic_read(int isr)
{
	uint8_t ocw3 = 0x0a | (isr ? 1 : 0);	/* read register: IRR, or ISR with bit 0 */

	outb(PIC1, ocw3);
	outb(PIC2, ocw3);
	return inb(PIC1) | inb(PIC2) << 8;
}

uint8_t cmos_read(unsigned reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

void cmos_write(unsigned reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

void pit_init(unsigned hz)
{
	uint32_t div = PIT_HZ / hz;

	outb(0x43, 0x34);	/* channel 0, lo/hi, mode 2 */
	outb(0x40, div & 0xff);
	outb(0x40, div >> 8);
}

void poweroff(void)
{
	outw(ACPI_PM1A_CNT, ACPI_SLP_S5);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static const char *after_prefix(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return s;
}

int cmdline_word_is(const char *s, const char *word)
{
	while (*word)
		if (*s++ != *word++)
			return 0;
	return *s == 0 || *s == ' ';
}

uint32_t parse_uint(const char *s)
{
	uint32_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	return v;
}

const char *cmdline_arg(const char *cmdline, const char *key)
{
	const char *s = cmdline;

	while (*s) {
		const char *value = after_prefix(s, key);

		if (value)
			return value;
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	return 0;
}

void set_raw_gate(unsigned vec, void (*handler)(void), unsigned dpl)
{
	struct table_ptr idtr;
	struct gate *idt;
	uint32_t off = (uint32_t)handler;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	idt = (struct gate *)idtr.base;
	idt[vec] = (struct gate){ off & 0xffff, SEL_KCODE, 0, 0x8e | dpl << 5, off >> 16 };
}
