/*
 * hostile.c - a guest that tries to make raw Linux system calls: write to
 * the host's stdout, create a file, exec a shell. int $0x80 is written at run
 * time (so the rewriter never saw it) and called from ring 0 and ring 3; on
 * real hardware it goes to the guest's own IDT, and so it must under lilyvm.
 * With "sysenter" or "syscall64" on the command line the guest then tries
 * those too, which end the VM under lilyvm (tests/guests/hostile.sh).
 */
#include "../lib/guest.h"

#define LINUX_WRITE 4
#define LINUX_OPEN 5
#define LINUX_EXECVE 11
#define O_CREAT_WRONLY 0101

void user_return(void);

static uint8_t code[16] __attribute__((aligned(16)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));
static volatile uint32_t seen_eax, seen_count;
static const char pwned[] = "PWNED: a guest wrote to the host's stdout\n";
static const char marker[] = "/tmp/lilyvm-hostile-marker";
static const char *const sh_argv[] = { "/bin/sh", "-c", "touch /tmp/lilyvm-hostile-exec", 0 };

/* The guest's own vector 0x80: what hardware delivers int $0x80 to. */
static void on_int80(struct trap_frame *f)
{
	if (f->eax == 0 && (f->cs & 3) == 3) {
		user_return();
		return;
	}
	seen_eax = f->eax;
	seen_count++;
	f->eax = (uint32_t)-38;	/* what a kernel without the call would answer */
}

/* Write "int $0x80; ret" where the rewriter could not have seen it. */
static void (*make_int80(void))(void)
{
	code[0] = 0xcd, code[1] = 0x80, code[2] = 0xc3;
	return (void (*)(void))code;
}

static uint32_t raw_syscall(uint32_t nr, uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t ret;

	__asm__ volatile("call *%5" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c), "r"(make_int80())
			 : "memory");
	return ret;
}

static volatile uint32_t user_rets[3];

static void user_main(void)
{
	user_rets[0] = raw_syscall(LINUX_WRITE, 1, (uint32_t)pwned, sizeof(pwned) - 1);
	user_rets[1] = raw_syscall(LINUX_OPEN, (uint32_t)marker, O_CREAT_WRONLY, 0644);
	user_rets[2] = raw_syscall(LINUX_EXECVE, (uint32_t)sh_argv[0], (uint32_t)sh_argv, 0);
	__asm__ volatile("int $0x80" :: "a"(0));
}

static void try_from_ring0(void)
{
	uint32_t r;

	seen_count = 0;
	r = raw_syscall(LINUX_WRITE, 1, (uint32_t)pwned, sizeof(pwned) - 1);
	check(seen_count == 1 && seen_eax == LINUX_WRITE && r == (uint32_t)-38,
	      "ring 0 int $0x80 write went to the guest's IDT");
	r = raw_syscall(LINUX_OPEN, (uint32_t)marker, O_CREAT_WRONLY, 0644);
	check(seen_count == 2 && seen_eax == LINUX_OPEN && r == (uint32_t)-38,
	      "ring 0 int $0x80 open went to the guest's IDT");
	r = raw_syscall(LINUX_EXECVE, (uint32_t)sh_argv[0], (uint32_t)sh_argv, 0);
	check(seen_count == 3 && seen_eax == LINUX_EXECVE && r == (uint32_t)-38,
	      "ring 0 int $0x80 execve went to the guest's IDT");
}

static void try_from_ring3(void)
{
	seen_count = 0;
	run_user(user_main, user_stack + sizeof(user_stack));
	check(seen_count == 3 && user_rets[0] == (uint32_t)-38 && user_rets[1] == (uint32_t)-38 &&
	      user_rets[2] == (uint32_t)-38, "ring 3 int $0x80 write, open, execve went to the guest's IDT");
}

static int has_word(const char *s, const char *w)
{
	for (; s && *s; s++) {
		const char *a = s, *b = w;

		while (*b && *a == *b)
			a++, b++;
		if (!*b)
			return 1;
	}
	return 0;
}

/* sysenter, written at run time: the host would take it as a system call. */
static void try_sysenter(void)
{
	code[0] = 0x0f, code[1] = 0x34, code[2] = 0xc3;
	__asm__ volatile("call *%0" :: "r"(code), "a"(LINUX_WRITE), "b"(1), "c"(pwned),
			 "d"(sizeof(pwned) - 1) : "memory");
	gprintf("sysenter came back\n");
}

/* Switch to the host's 64-bit code segment (0x33) and use syscall there. */
static void try_syscall64(void)
{
	static const uint8_t far_to_64[] = { 0xea, 0, 0, 0, 0, 0x33, 0 };
	uint32_t target = (uint32_t)code + 8;

	for (unsigned i = 0; i < sizeof(far_to_64); i++)
		code[i] = far_to_64[i];
	code[1] = target, code[2] = target >> 8, code[3] = target >> 16, code[4] = target >> 24;
	code[8] = 0x0f, code[9] = 0x05, code[10] = 0xf4;	/* syscall; hlt */
	__asm__ volatile("call *%0" :: "r"(code), "a"(1), "D"(1), "S"(pwned),
			 "d"(sizeof(pwned) - 1) : "memory");
	gprintf("syscall64 came back\n");
}

void guest_main(uint32_t magic, void *mbi)
{
	const struct multiboot_info *info = mbi;
	const char *cmdline = info->flags & 4 ? (const char *)info->cmdline : 0;

	guest_init();
	set_handler(0x80, on_int80);
	allow_user_int(0x80);
	try_from_ring0();
	try_from_ring3();
	if (has_word(cmdline, "sysenter"))
		try_sysenter();
	if (has_word(cmdline, "syscall64"))
		try_syscall64();
	finish();
}
