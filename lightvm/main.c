/*
 * main.c - `lilyvm run KERNEL ...`: boot a rewritten i386 kernel as an
 * ordinary, unprivileged process.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lightvm/crash.h"
#include "lightvm/lightvm.h"
#include "lightvm/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: lilyvm run KERNEL|--linux BZIMAGE [--mem SIZE] [--append ARGS]\n"
		   "                  [--initrd FILE] [--serial stdio|pty|file:PATH]\n"
		   "                  [--net user[,OPTION...]] [--trace CLASS,...] [--stats]\n"
		   "  KERNEL   a Multiboot kernel rewritten by lilyvm-rewrite\n"
		   "  --linux  a stock i386 Linux bzImage (rewritten on first use, cached)\n"
		   "  --mem    guest RAM, e.g. 128M or 1G (default 128M, 256M for Linux)\n"
		   "  --net    a virtio-net card; user: TCP/IP through host sockets (libslirp),\n"
		   "           options as QEMU's -netdev user: hostfwd=tcp|udp:[HOSTADDR]:PORT-\n"
		   "           [GUESTADDR]:PORT (HOSTADDR defaults to 127.0.0.1), restrict=on|off,\n"
		   "           ipv6=on|off, net=ADDR/BITS, host=, dhcpstart=, dns=, hostname=\n"
		   "  --trace  %s\n"
		   "On a terminal, Ctrl-A x stops the guest.\n", log_trace_names());
}

/* Sizes like 64M, 1G, 512K or plain bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || v > ((1ull << 32) >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static int parse_serial(const char *s, struct lvm_config *cfg)
{
	if (!strcmp(s, "stdio"))
		cfg->serial = LVM_SERIAL_STDIO;
	else if (!strcmp(s, "pty"))
		cfg->serial = LVM_SERIAL_PTY;
	else if (!strncmp(s, "file:", 5) && s[5])
		cfg->serial = LVM_SERIAL_FILE, cfg->serial_path = s + 5;
	else
		return -1;
	return 0;
}

/* A command-line mistake: one line, then exit 2. */
static void __attribute__((noreturn)) bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "lilyvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (lilyvm --help shows the options)\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct lvm_config *cfg)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },    { "append", required_argument, NULL, 'a' },
		{ "initrd", required_argument, NULL, 'i' }, { "serial", required_argument, NULL, 's' },
		{ "trace", required_argument, NULL, 't' },  { "stats", no_argument, NULL, 'S' },
		{ "linux", required_argument, NULL, 'L' },  { "help", no_argument, NULL, 'h' },
		{ "net", required_argument, NULL, 'n' },
		{ 0 }
	};
	int c, mem_given = 0;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		exit(0);
	}
	if (argc < 2 || strcmp(argv[1], "run"))
		bad_usage("the only command is `run KERNEL`%s", "");
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &cfg->mem_bytes))
				bad_usage("--mem %s: not a size like 128M or 1G (under 4G)", optarg);
			mem_given = 1;
			break;
		case 'L': cfg->linux_bzimage = optarg; break;
		case 'a': cfg->append = optarg; break;
		case 'i': cfg->initrd = optarg; break;
		case 's':
			if (parse_serial(optarg, cfg))
				bad_usage("--serial %s: expected stdio, pty or file:PATH", optarg);
			break;
		case 't':
			if (log_set_trace(optarg))
				bad_usage("--trace %s: unknown trace class", optarg);
			break;
		case 'S': cfg->stats = 1; break;
		case 'n': cfg->net = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: bad_usage("%s: unknown option or missing argument", argv[optind - 1]);
		}
	}
	if (optind != argc - !cfg->linux_bzimage)
		bad_usage("run takes exactly one KERNEL, or --linux BZIMAGE%s", "");
	cfg->kernel = cfg->linux_bzimage ? NULL : argv[optind];
	if (!mem_given)
		cfg->mem_bytes = (cfg->linux_bzimage ? 256u : 128u) << 20;
}

static void say_who_runs_it(int pid)
{
	struct passwd *pw = getpwuid(getuid());

	log_info("guest runs as host pid %d, uid %d (%s)", pid, (int)getuid(),
		 pw ? pw->pw_name : "?");
}

int main(int argc, char **argv)
{
	struct lvm_config cfg = { 0 };
	char err[256] = "";
	struct vm *vm;
	enum lvm_exit how;

	crash_handlers_install(lvm_restore_terminal);
	parse_args(argc, argv, &cfg);
	vm = lvm_create(&cfg, err, sizeof(err));
	if (!vm) {
		fprintf(stderr, "lilyvm: %s\n", err);
		return 1;
	}
	say_who_runs_it(lvm_guest_pid(vm));
	how = lvm_run(vm);
	if (how == LVM_ERROR) {
		fprintf(stderr, "lilyvm: %s\n", lvm_exit_reason(vm));
		lvm_dump_guest(vm, stderr);
	} else {
		log_info("%s", lvm_exit_reason(vm));
	}
	if (cfg.stats)
		lvm_print_stats(vm, stderr);
	lvm_destroy(vm);
	return how == LVM_ERROR ? 1 : 0;
}
