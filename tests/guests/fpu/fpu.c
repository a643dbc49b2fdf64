/*
 * fpu.c - lazy FPU switching between two ring 3 tasks, the way kernels did
 * it: on a task switch the kernel sets CR0.TS and saves nothing; the #NM
 * that the next FPU use raises saves the previous owner's x87 state and
 * loads the current task's. Each task keeps values on the x87 stack across
 * switches and must find them intact.
 */
#include "../lib/guest.h"

#define SWITCHES 3
#define SYS_YIELD 1
#define SYS_EXIT 0

void user_return(void);

struct task {
	struct trap_frame frame;	/* where it stopped, when it is not running */
	uint8_t fpu[108];		/* fnsave area */
	int fpu_used;
	uint8_t stack[4096] __attribute__((aligned(16)));
};

static struct task tasks[2];
static int current, fpu_owner = -1, alive = 2;
static volatile unsigned nm_count;
static volatile double results[2];

static void set_ts(void)
{
	uint32_t cr0;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | 8));
}

/* #NM: give the FPU to the current task. */
static void on_device_not_available(struct trap_frame *f)
{
	nm_count++;
	__asm__ volatile("clts");
	if (fpu_owner == current)
		return;
	if (fpu_owner >= 0)
		__asm__ volatile("fnsave %0" : "=m"(tasks[fpu_owner].fpu));
	if (tasks[current].fpu_used)
		__asm__ volatile("frstor %0" :: "m"(tasks[current].fpu));
	else
		__asm__ volatile("fninit");
	tasks[current].fpu_used = 1;
	fpu_owner = current;
}

/* Save the running task's frame, resume the other one, and set TS. */
static void switch_task(struct trap_frame *f)
{
	tasks[current].frame = *f;
	current ^= 1;
	*f = tasks[current].frame;
	set_ts();
}

static void on_syscall(struct trap_frame *f)
{
	if (f->eax == SYS_EXIT && --alive == 0)
		user_return();
	if (f->eax == SYS_EXIT)
		tasks[current].frame = tasks[current ^ 1].frame;	/* run the other one only */
	switch_task(f);
}

static void yield(void)
{
	__asm__ volatile("int $0x80" :: "a"(SYS_YIELD) : "memory");
}

/* Each task pushes two values of its own and keeps them across switches. */
static void task_body(int id, double a, double b)
{
	double top, below;

	__asm__ volatile("fldl %0\n\tfldl %1" :: "m"(a), "m"(b));
	for (int i = 0; i < SWITCHES; i++)
		yield();
	__asm__ volatile("fstpl %0\n\tfstpl %1" : "=m"(top), "=m"(below));
	results[id] = top * 1000 + below;
	__asm__ volatile("int $0x80" :: "a"(SYS_EXIT));
	for (;;)
		;
}

static void task0(void) { task_body(0, 1.5, 2.25); }
static void task1(void) { task_body(1, 7.0, 9.125); }

static void start_frame(int id, void (*fn)(void))
{
	struct trap_frame *t = &tasks[id].frame;

	t->eip = (uint32_t)fn;
	t->cs = SEL_UCODE;
	t->eflags = 0x202;
	t->user_esp = (uint32_t)(tasks[id].stack + sizeof(tasks[id].stack));
	t->user_ss = SEL_UDATA;
	t->ds = t->es = SEL_UDATA;
}

void guest_main(uint32_t magic, void *mbi)
{
	static uint8_t boot_stack[4096] __attribute__((aligned(16)));

	guest_init();
	set_handler(7, on_device_not_available);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	start_frame(1, task1);
	set_ts();
	run_user(task0, boot_stack + sizeof(boot_stack));
	check(results[0] == 2.25 * 1000 + 1.5, "task 0's x87 stack survived the switches");
	check(results[1] == 9.125 * 1000 + 7.0, "task 1's x87 stack survived the switches");
	check(nm_count >= 2, "lazy switching took #NM");
	finish();
}
