/*
 * paging.c - the paging runtime of the MMU micro-guests (see paging.h).
 * Every access that may fault is one plain mov (or a jmp for a fetch) in
 * inline asm with a recovery label: QEMU and hardware report the W bit of
 * read-modify-write and string instructions differently, a mov they agree on.
 */
#include <stdarg.h>

#include "paging.h"

void user_return(void);

volatile struct pg_fault_info pg_fault;

static uint32_t next_frame = PG_POOL_START;
static uint32_t *ident_tables[PG_IDENT_END / BIG_PAGE];
static uint64_t *pae_ident_tables[PG_IDENT_END / PAE_BIG_PAGE];
static uint64_t *pdpt_frame;	/* where pae_new_pdpt() takes 32-byte PDPTs from */
static unsigned pdpts_taken;
static uint8_t user_stack[4096] __attribute__((aligned(16)));

/* The operation ring 3 performs for pg_load/pg_store/pg_exec. */
enum { OP_LOAD, OP_STORE, OP_EXEC };
static volatile struct {
	int op, faulted;
	uint32_t va, val;
} uop;

void pg_fill(void *page, uint32_t word)
{
	void *d = page;
	uint32_t n = PAGE / 4;

	__asm__ volatile("cld\n\trep stosl" : "+D"(d), "+c"(n) : "a"(word) : "memory");
}

void pg_copy(void *to, const void *from)
{
	void *d = to;
	const void *s = from;
	uint32_t n = PAGE / 4;

	__asm__ volatile("cld\n\trep movsl" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
}

uint32_t *pg_alloc(void)
{
	uint32_t *p = (uint32_t *)next_frame;

	if (next_frame >= PG_IDENT_END) {
		gprintf("not ok - the frame pool is exhausted\n");
		poweroff();
	}
	next_frame += PAGE;
	pg_fill(p, 0);
	return p;
}

/* The identity map's page tables, made once and shared by every directory. */
static void make_ident_tables(void)
{
	for (uint32_t t = 0; t < PG_IDENT_END / BIG_PAGE; t++) {
		ident_tables[t] = pg_alloc();
		for (uint32_t i = 0; i < 1024; i++) {
			uint32_t pa = t * BIG_PAGE + i * PAGE;

			if (pa >= PG_IDENT_START)
				ident_tables[t][i] = pa | PG_P | PG_RW | PG_US;
		}
	}
}

uint32_t *pg_new_directory(void)
{
	uint32_t *pd = pg_alloc();

	if (!ident_tables[0])
		make_ident_tables();
	for (uint32_t t = 0; t < PG_IDENT_END / BIG_PAGE; t++)
		pd[t] = (uint32_t)ident_tables[t] | PG_P | PG_RW | PG_US;
	return pd;
}

volatile uint32_t *pg_pde(uint32_t *pd, uint32_t va)
{
	return &pd[va >> 22];
}

volatile uint32_t *pg_pte(uint32_t *pd, uint32_t va)
{
	volatile uint32_t *pde = pg_pde(pd, va);

	if (!*pde)
		*pde = (uint32_t)pg_alloc() | PG_P | PG_RW | PG_US;
	return &((volatile uint32_t *)(*pde & PG_FRAME))[(va >> 12) & 1023];
}

volatile uint32_t *pg_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
	volatile uint32_t *pte = pg_pte(pd, va);

	*pte = (pa & PG_FRAME) | flags;
	return pte;
}

void pg_enable(uint32_t *pd)
{
	write_cr3((uint32_t)pd);
	write_cr0((read_cr0() | CR0_PG) & ~CR0_WP);
}

void pg_set_wp(int on)
{
	write_cr0(on ? read_cr0() | CR0_WP : read_cr0() & ~CR0_WP);
}

void pg_set_pse(int on)
{
	write_cr4(on ? read_cr4() | CR4_PSE : read_cr4() & ~CR4_PSE);
}

void pg_set_pge(int on)
{
	write_cr4(on ? read_cr4() | CR4_PGE : read_cr4() & ~CR4_PGE);
}

/* --- PAE --- */

/* The identity map's PAE page tables, made once and shared by every PDPT. */
static void make_pae_ident_tables(void)
{
	for (uint32_t t = 0; t < PG_IDENT_END / PAE_BIG_PAGE; t++) {
		pae_ident_tables[t] = (uint64_t *)pg_alloc();
		for (uint32_t i = 0; i < 512; i++) {
			uint32_t pa = t * PAE_BIG_PAGE + i * PAGE;

			if (pa >= PG_IDENT_START)
				pae_ident_tables[t][i] = pa | PG_P | PG_RW | PG_US;
		}
	}
}

uint64_t *pae_new_pdpt(void)
{
	uint64_t *pdpt, *pd0;

	if (!pae_ident_tables[0])
		make_pae_ident_tables();
	if (!pdpt_frame || pdpts_taken == PAGE / 32) {
		pdpt_frame = (uint64_t *)pg_alloc();
		pdpts_taken = 0;
	}
	pdpt = pdpt_frame + 4 * pdpts_taken++;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (uint32_t)pg_alloc() | PG_P;
	pd0 = (uint64_t *)(uint32_t)(pdpt[0] & PAE_FRAME);
	for (uint32_t t = 0; t < PG_IDENT_END / PAE_BIG_PAGE; t++)
		pd0[t] = (uint32_t)pae_ident_tables[t] | PG_P | PG_RW | PG_US;
	return pdpt;
}

volatile uint64_t *pae_pdpte(uint64_t *pdpt, uint32_t va)
{
	return &pdpt[va >> 30];
}

volatile uint64_t *pae_pde(uint64_t *pdpt, uint32_t va)
{
	uint32_t pd = (uint32_t)(*pae_pdpte(pdpt, va) & PAE_FRAME);

	return &((volatile uint64_t *)pd)[(va >> 21) & 511];
}

volatile uint64_t *pae_pte(uint64_t *pdpt, uint32_t va)
{
	volatile uint64_t *pde = pae_pde(pdpt, va);

	if (!*pde)
		*pde = (uint32_t)pg_alloc() | PG_P | PG_RW | PG_US;
	return &((volatile uint64_t *)(uint32_t)(*pde & PAE_FRAME))[(va >> 12) & 511];
}

volatile uint64_t *pae_map(uint64_t *pdpt, uint32_t va, uint64_t pa, uint64_t flags)
{
	volatile uint64_t *pte = pae_pte(pdpt, va);

	*pte = (pa & PAE_FRAME) | flags;
	return pte;
}

void pae_enable(uint64_t *pdpt)
{
	write_cr3((uint32_t)pdpt);
	write_cr4(read_cr4() | CR4_PAE);
	write_cr0((read_cr0() | CR0_PG) & ~CR0_WP);
}

int pg_cpu_pae(void)
{
	uint32_t r[4];

	cpuid(1, r);
	return !!(r[3] & 1u << 6);
}

int pg_cpu_nx(void)
{
	uint32_t r[4];

	cpuid(0x80000000, r);
	if (r[0] < 0x80000001 || r[0] > 0x8000ffff)
		return 0;
	cpuid(0x80000001, r);
	return !!(r[3] & 1u << 20);
}

unsigned pg_maxphyaddr(void)
{
	uint32_t r[4];

	cpuid(0x80000000, r);
	if (r[0] >= 0x80000008 && r[0] <= 0x8000ffff) {
		cpuid(0x80000008, r);
		return r[0] & 0xff;
	}
	return pg_cpu_pae() ? 36 : 32;
}

void pg_set_nxe(int on)
{
	uint64_t efer = rdmsr(MSR_EFER);

	wrmsr(MSR_EFER, on ? efer | EFER_NXE : efer & ~(uint64_t)EFER_NXE);
}

/* --- faults --- */

void pg_on_fault(struct trap_frame *f)
{
	if (!pg_fault.recover) {
		gprintf("not ok - unexpected vector %u error %x at 0x%x cr2=0x%x\n",
			f->vector, f->error, f->eip, read_cr2());
		poweroff();
	}
	pg_fault.vector = f->vector;
	pg_fault.err = f->error;
	pg_fault.cr2 = f->vector == VEC_PF ? read_cr2() : 0;
	pg_fault.eip = f->eip;
	f->eip = pg_fault.recover;
}

static void on_syscall(struct trap_frame *f)
{
	user_return();
}

void pg_init(void)
{
	set_handler(VEC_PF, pg_on_fault);
	set_handler(13, pg_on_fault);	/* a #GP where a #PF belongs shows up in a check */
	set_handler(6, pg_on_fault);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
}

/*
 * The raw accesses run in ring 0 or ring 3 (their code and pg_fault are in
 * the user-accessible identity map). Each records where its instruction is
 * and arms the handler's recovery address; after it the handler is disarmed.
 */
static int __attribute__((noinline)) raw_load(uint32_t va, uint32_t *val)
{
	uint32_t v;

	pg_fault.vector = PG_NO_FAULT;
	__asm__ volatile("movl $1f, %[rec]\n\tmovl $0f, %[at]\n"
			 "0:\tmovl (%[va]), %[v]\n1:"
			 : [rec] "=m"(pg_fault.recover), [at] "=m"(pg_fault.at), [v] "=r"(v)
			 : [va] "r"(va) : "memory");
	pg_fault.recover = 0;
	if (pg_fault.vector != PG_NO_FAULT)
		return 1;
	*val = v;
	return 0;
}

static int __attribute__((noinline)) raw_store(uint32_t va, uint32_t val)
{
	pg_fault.vector = PG_NO_FAULT;
	__asm__ volatile("movl $1f, %[rec]\n\tmovl $0f, %[at]\n"
			 "0:\tmovl %[v], (%[va])\n1:"
			 : [rec] "=m"(pg_fault.recover), [at] "=m"(pg_fault.at)
			 : [va] "r"(va), [v] "r"(val) : "memory");
	pg_fault.recover = 0;
	return pg_fault.vector != PG_NO_FAULT;
}

/* A fetch fault is reported at the target, with EIP = CR2 = va. */
static int __attribute__((noinline)) raw_exec(uint32_t va)
{
	pg_fault.vector = PG_NO_FAULT;
	pg_fault.at = va;
	__asm__ volatile("movl $1f, %[rec]\n\tmovl $1f, %%ecx\n\tjmp *%[va]\n1:"
			 : [rec] "=m"(pg_fault.recover) : [va] "r"(va) : "ecx", "memory");
	pg_fault.recover = 0;
	return pg_fault.vector != PG_NO_FAULT;
}

static void user_op(void)
{
	uint32_t v = uop.val;

	if (uop.op == OP_LOAD)
		uop.faulted = raw_load(uop.va, &v);
	else if (uop.op == OP_STORE)
		uop.faulted = raw_store(uop.va, v);
	else
		uop.faulted = raw_exec(uop.va);
	uop.val = v;
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(0) : "memory");
}

static int in_ring3(int op, uint32_t va, uint32_t *val)
{
	uop.op = op;
	uop.va = va;
	uop.val = *val;
	run_user(user_op, user_stack + sizeof(user_stack));
	*val = uop.val;
	return uop.faulted;
}

int pg_load(int cpl, uint32_t va, uint32_t *val)
{
	return cpl ? in_ring3(OP_LOAD, va, val) : raw_load(va, val);
}

int pg_store(int cpl, uint32_t va, uint32_t val)
{
	return cpl ? in_ring3(OP_STORE, va, &val) : raw_store(va, val);
}

int pg_exec(int cpl, uint32_t va)
{
	uint32_t unused = 0;

	return cpl ? in_ring3(OP_EXEC, va, &unused) : raw_exec(va);
}

/* --- names --- */

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, char *end, uint32_t v, unsigned base)
{
	char buf[12];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && p < end)
		*p++ = buf[--n];
	return p;
}

static void vformat(char *buf, unsigned size, const char *fmt, va_list ap)
{
	char *p = buf, *end = buf + size - 1;

	for (; *fmt && p < end; fmt++) {
		if (*fmt != '%') {
			*p++ = *fmt;
			continue;
		}
		switch (*++fmt) {
		case 'd': {
			int v = va_arg(ap, int);

			if (v < 0) {
				*p++ = '-';
				v = -v;
			}
			p = put_num(p, end, v, 10);
			break;
		}
		case 'u': p = put_num(p, end, va_arg(ap, uint32_t), 10); break;
		case 'x': p = put_num(p, end, va_arg(ap, uint32_t), 16); break;
		case 's': p = put_str(p, end, va_arg(ap, const char *)); break;
		default: *p++ = *fmt; break;
		}
	}
	*p = 0;
}

static void format(char *buf, unsigned size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(buf, size, fmt, ap);
	va_end(ap);
}

/* Four buffers in turn, so that a name may be built from another one. */
const char *pg_name(const char *fmt, ...)
{
	static char bufs[4][200];
	static unsigned n;
	char *buf = bufs[n++ % 4];
	va_list ap;

	va_start(ap, fmt);
	vformat(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return buf;
}

const char *pg_fault_str(void)
{
	static char buf[48];

	if (pg_fault.vector == PG_NO_FAULT)
		return "no fault";
	if (pg_fault.vector != VEC_PF)
		format(buf, sizeof(buf), "vector %u err=%x", pg_fault.vector, pg_fault.err);
	else if (pg_fault.err & PFERR_RSVD)
		format(buf, sizeof(buf), "err=%x/%x cr2=0x%x", pg_fault.err | PFERR_P,
		       pg_fault.err & ~PFERR_P, pg_fault.cr2);
	else
		format(buf, sizeof(buf), "err=%x cr2=0x%x", pg_fault.err, pg_fault.cr2);
	return buf;
}
