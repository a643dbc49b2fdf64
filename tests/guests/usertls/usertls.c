/*
 * usertls.c - guest ring 3 code is never rewritten, so its segment loads run
 * natively: TLS through %gs with a guest GDT selector, and DS reloads. Some
 * guest selectors name host descriptors that load without a fault (0x23 and
 * 0x33 are the host's own user segments); the guest must still get its own.
 * The ring 3 code lives in a data section, where the rewriter does not look.
 * (Reading a segment register back natively shows lilyvm's host selector,
 * a documented difference, so this guest does not print it.)
 */
#include "../lib/guest.h"


void user_return(void);
void user_tls(void);

static volatile uint32_t tls_block[2] = { 0x11223344, 0x55667788 };
static volatile uint32_t tls_block2[2] = { 0xcafef00d, 0 };
static volatile uint32_t written;
static volatile uint32_t seen[4];
static uint8_t user_stack[4096] __attribute__((aligned(16)));

/*
 * In ring 3: read both TLS blocks through %gs and %fs, reload %ds with the
 * guest's user data selector and write through it, then report with int $0x80.
 */
__asm__(".pushsection .data.usercode, \"aw\"\n"
	"user_tls:\n"
	"	mov $0x33, %ax\n"		/* GDT 6: the host's 64-bit code segment number */
	"	mov %ax, %gs\n"
	"	mov %gs:0, %esi\n"
	"	mov %gs:4, %edi\n"
	"	mov $0x3b, %ax\n"		/* GDT 7: a number the host has no segment for */
	"	mov %ax, %fs\n"
	"	mov %fs:0, %ebp\n"
	"	mov $0x23, %ax\n"
	"	mov %ax, %ds\n"
	"	movl $0x600d, written\n"
	"	mov $1, %eax\n"
	"	int $0x80\n"
	"	mov $0, %eax\n"
	"	int $0x80\n"
	".popsection");

static void on_syscall(struct trap_frame *f)
{
	if (f->eax == 0)
		user_return();
	seen[0] = f->esi, seen[1] = f->edi, seen[2] = f->ebp, seen[3] = f->ds & 0xffff;
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	gdt_set(6, (uint32_t)tls_block, sizeof(tls_block) - 1, 0xf2, 0x4);
	gdt_set(7, (uint32_t)tls_block2, sizeof(tls_block2) - 1, 0xf2, 0x4);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	run_user(user_tls, user_stack + sizeof(user_stack));
	check(seen[0] == 0x11223344 && seen[1] == 0x55667788,
	      "ring 3 reads its TLS block through %gs with selector 0x33");
	check(seen[2] == 0xcafef00d, "ring 3 reads through %fs with selector 0x3b");
	check(written == 0x600d && seen[3] == 0x23,
	      "ring 3 writes through %ds reloaded with the guest's user data selector");
	finish();
}
