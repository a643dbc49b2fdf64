# bench/: benchmarks, run by hand (`make bench`); none of them is a test.
EXTRA_DIST += bench/rewrite-vmlinux.sh bench/README.md

# Rewrite the vmlinux of Debian's i386 686 kernel (fetched once, then cached).
.PHONY: bench
bench: rewriter/lilyvm-rewrite$(EXEEXT) ports/linux/lilyvm-unbzimage$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM_UNBZIMAGE=$(abs_top_builddir)/ports/linux/lilyvm-unbzimage$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/rewrite-vmlinux.sh
