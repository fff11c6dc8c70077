/*
 * fuzz_gguf.c: libFuzzer target for the GGUF reader: any byte string must give SPC_OK or an error
 * status, never a crash, a leak or undefined behaviour. `make fuzz` builds it with clang,
 * ASan and UBSan; run build-fuzz/fuzz_gguf -max_total_time=60 [corpus dir].
 */
#include <stddef.h>
#include <stdint.h>

#include "specula.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct spc_gguf *g = NULL;
    if (spc_gguf_open_memory(&g, data, size) == SPC_OK) {
        char buf[256];
        for (int64_t i = 0; i < spc_gguf_n_kv(g); i++) spc_gguf_kv_format(g, i, buf, sizeof buf);
        spc_gguf_close(g);
    }
    return 0;
}
