# specula: one Makefile. `make` builds the library and the CLI; `make test` runs every test.
# Only the SIMD kernel files get ISA flags, so one binary runs on any x86-64.
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
CPPFLAGS = -D_GNU_SOURCE -Iinclude -Isrc
LDLIBS   = -lpcre2-8 -lm -lpthread
BUILD   ?= build

LIB_SRC  = $(wildcard src/*.c)
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
SIMD_SRC = $(wildcard src/simd/*_avx2.c) $(wildcard src/simd/*_avx512.c)
SIMD_OBJ = $(SIMD_SRC:src/simd/%.c=$(BUILD)/src/simd/%.o)
TESTS    = $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
TEST_BIN = $(TESTS:%=$(BUILD)/tests/%)

all: $(BUILD)/specula

$(BUILD)/libspecula.a: $(LIB_OBJ) $(SIMD_OBJ)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(BUILD)/src/%.o: src/%.c $(wildcard src/*.h) include/specula.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(BUILD)/src/simd/%_avx2.o: src/simd/%_avx2.c $(wildcard src/*.h) $(wildcard src/simd/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -mavx2 -mfma -mf16c -c $< -o $@

$(BUILD)/src/simd/%_avx512.o: src/simd/%_avx512.c $(wildcard src/*.h) $(wildcard src/simd/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c -c $< -o $@

$(BUILD)/specula: $(wildcard tools/*.c) $(BUILD)/libspecula.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) $(wildcard tools/*.c) $(BUILD)/libspecula.a $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libspecula.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $(WARN) $(LDFLAGS) $< $(BUILD)/libspecula.a $(LDLIBS) -o $@

# The public header must compile as strict C and as C++.
$(BUILD)/tests/header_c.o: include/specula.h
	@mkdir -p $(@D)
	printf '#include "specula.h"\nint main(void){return 0;}\n' | $(CC) -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -x c - -c -o $@
	printf '#include "specula.h"\nint main(){return 0;}\n' | g++ -std=c++11 -Wall -Wextra -Werror -Iinclude -x c++ - -c -o $(BUILD)/tests/header_cxx.o

test: $(TEST_BIN) $(BUILD)/specula $(BUILD)/tests/header_c.o
	@BUILD=$(BUILD) sh tests/run.sh $(TESTS)

# Same tests under AddressSanitizer and UBSan, in their own build folder.
test-asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 OPT=-O1 test

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all test test-asan clean
.SECONDARY:

# Fuzz targets (clang + libFuzzer + ASan/UBSan), not part of `make test`.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1" CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libspecula.a
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) tests/fuzz/fuzz_gguf.c build-fuzz/libspecula.a $(LDLIBS) -o build-fuzz/fuzz_gguf
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) tests/fuzz/fuzz_tokenize.c build-fuzz/libspecula.a $(LDLIBS) -o build-fuzz/fuzz_tokenize

.PHONY: fuzz

# Kernel lab (dev/): one program per hot kernel, with the reference, the variants and timing.
dev: $(BUILD)/libspecula.a
	@mkdir -p $(BUILD)/dev
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/dot_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/dot_lab
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/mm_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/mm_lab
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/att_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/att_lab
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/rf_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/rf_lab
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/x16_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/x16_lab
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) dev/vk_lab.c $(BUILD)/libspecula.a $(LDLIBS) -o $(BUILD)/dev/vk_lab

.PHONY: dev
