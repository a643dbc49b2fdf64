# rewriter/: librewrite and the lilyvm-rewrite tool.
noinst_LIBRARIES += rewriter/librewrite.a
rewriter_librewrite_a_SOURCES = rewriter/rewrite.h rewriter/sites.h rewriter/image.h \
	rewriter/elfimg.c rewriter/catalogue.c rewriter/scan.c rewriter/output.c \
	rewriter/report.c rewriter/linuxtab.c rewriter/pv.c
rewriter_librewrite_a_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(CAPSTONE_CFLAGS)
REWRITE_LIBS = rewriter/librewrite.a $(LIBELF_LIBS) $(CAPSTONE_LIBS)

bin_PROGRAMS += rewriter/lilyvm-rewrite
rewriter_lilyvm_rewrite_SOURCES = rewriter/lilyvm-rewrite.c
rewriter_lilyvm_rewrite_LDADD = $(REWRITE_LIBS)
EXTRA_DIST += rewriter/README.md rewriter/CATALOGUE.md
