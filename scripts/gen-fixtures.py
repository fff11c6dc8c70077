#!/usr/bin/env python3
"""gen-fixtures.py: regenerate the reference fixtures in tests/fixtures/ with llama.cpp.

The fixtures come from an independent implementation, llama.cpp, through the Python package
llama-cpp-python==0.3.36 (which vendors llama.cpp commit 0c1e57098, ggml 0.25.3). The C tests
read them; nothing here is needed to build or test specula.

How to run (from the repository root; the models must already be in the cache, see
scripts/fetch-model):

    python3 -m venv ~/.cache/specula/refvenv
    CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_OPENMP=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
        ~/.cache/specula/refvenv/bin/pip install llama-cpp-python==0.3.36 numpy
    ~/.cache/specula/refvenv/bin/python scripts/gen-fixtures.py [--only tok|gen]

Outputs (all plain text, UTF-8, "\n" line ends):

  tests/fixtures/tok-<model>.txt   tokenizer goldens, one case per line:
        <special>\t<hex of the UTF-8 text>\t<space-separated token ids>
    special is 1 when the text was tokenized with parse_special=True (so control-token strings
    such as <|im_start|> become single ids), else 0. No BOS is added. The empty string gives
    "0\t\t". Written for smollm2-135m, qwen2.5-coder-0.5b and gemma3-270m; qwen2.5-coder-1.5b
    has the same tokenizer (identical tokens, token types, merges and pre-tokenizer; only the
    chat template differs), so tok-qwen2.5-coder-1.5b.txt is written only if its token ids ever
    differ. Every file has the same cases in the same order; tok-gemma3-270m.txt then appends
    cases with Gemma's own markup (<start_of_turn>, <end_of_turn>, <bos>, ...; see
    GEMMA_SPECIAL_TEXTS), each with special=0 and special=1.

  tests/fixtures/gen-<model>.txt   greedy-decoding / logit goldens, per prompt:
        prompt <ids>                     the prompt, tokenized with parse_special=True, no BOS
                                         (gemma3-270m: the BOS id 2 first, as that model needs)
        greedy <32 ids>                  argmax of the raw logits, 32 steps
        top <step> <id>:<logit> x10      the 10 largest raw logits (%.5f) at the position that
                                         predicts greedy token <step>, step 0..31 (step 0 is
                                         the last prompt position)
    and a blank line between prompts. The prompt is decoded as a single batch, then each
    greedy token one at a time (n_threads=2, n_ctx=2048, f16 KV cache, flash attention off).
    Greedy is plain argmax (lowest id on ties) and does not stop at end-of-generation tokens.
    The prompt texts are the same for every model, except that the chat prompt uses the model's
    own template (ChatML, or Gemma's <start_of_turn>user ... <start_of_turn>model, which has no
    system turn). Gemma 3 270M's longest prompt is 507 tokens with its BOS, just under its
    sliding window (512), and its greedy steps run past the window: llama.cpp hides key position
    p0 from query position p1 in the sliding-window layers when p1 - p0 >= 512, so from step 6
    on (query position 512 and up) those layers no longer see the oldest positions.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
CACHE = os.environ.get("SPECULA_CACHE", os.path.expanduser("~/.cache/specula"))
MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gemma3-270m"]
# models whose gen prompts start with BOS (their tokenizer.ggml.add_bos_token is true and they
# need it); the tok files never add BOS
BOS_MODELS = {"gemma3-270m"}
# chat template of each model's chat prompt (GEN_PROMPTS[CHAT_PROMPT])
CHAT_TEMPLATE = {"gemma3-270m": "gemma"}  # default: ChatML
N_GEN = 32
N_TOP = 10


def model_path(name):
    return os.path.join(CACHE, "models", name + ".gguf")


# --------------------------------------------------------------------------------------------
# tokenizer cases

LONG_PARAGRAPH = (
    "The history of computing is a story of abstraction layered upon abstraction. Early "
    "machines were programmed by physically rewiring circuits; later, stored-program computers "
    "allowed instructions to live in memory alongside data. Assembly languages gave mnemonic "
    "names to opcodes, and compilers translated higher-level notations -- FORTRAN in 1957, "
    "COBOL in 1959, C in 1972 -- into machine code. Each step traded a little efficiency for a "
    "great deal of expressiveness. Today a single line of Python may invoke millions of "
    "instructions, yet the programmer rarely thinks about registers, caches, or branch "
    "predictors. Still, performance matters: a matrix multiplication that fits in L2 cache can "
    "run 10x faster than one that thrashes main memory, and an inference engine that quantizes "
    "its weights to 4 bits moves roughly 8x less data than one using 32-bit floats. "
    "\"Premature optimization is the root of all evil,\" Knuth wrote (1974), but he also noted "
    "that we should not pass up our opportunities in that critical 3%. Modern language models "
    "are a case in point. A 135M-parameter model needs ~270 MB at 16 bits, ~70 MB at 4 bits; "
    "a 1.5B-parameter model needs about 3.0 GB or 0.9 GB respectively. Token throughput on a "
    "laptop CPU is usually limited by memory bandwidth, not arithmetic: each generated token "
    "must stream every weight through the processor once. That is why techniques such as "
    "speculative decoding -- where a small draft model proposes several tokens and a large "
    "model verifies them in one batched pass -- can yield speedups of 2-3x without changing "
    "the output distribution at all. The idea is old (it resembles branch prediction in "
    "hardware), but its application to autoregressive transformers dates only to 2022-2023. "
    "In practice, the acceptance rate depends on how well the draft model agrees with the "
    "target: for code, where much of the text is predictable boilerplate, agreement is often "
    "above 70%; for creative prose it may fall below 40%. Engineers tune the number of "
    "drafted tokens, k, accordingly (k = 4 to 8 is common). None of this would matter if "
    "memory were free and infinitely fast -- but it isn't, and it probably never will be.\n"
)

CHAT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?"
        "<|im_end|>\n")

# texts tokenized both with special=0 and special=1 (they contain special-token strings)
SPECIAL_TEXTS = [
    "<|im_start|>user\nhi<|im_end|>\n",
    CHAT,
    "<|im_start|>assistant\n",
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<|im_end|><|im_start|>",
    "text<|endoftext|>more text",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|>user\n  leading spaces\n\n<|im_end|>\n",
    "<|im_start|user\nnot quite special<|im_end|",
    "<|im_start|><|im_start|><|im_end|><|im_end|>",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "<|repo_name|>specula\n<|file_sep|>src/main.c\nint main(void) { return 0; }\n",
    "<fim_prefix>int a = <fim_suffix>;<fim_middle>",
    "<repo_name>org/repo<file_sep>README.md\n# Title\n",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<|endoftext|><|endoftext|>",
    "a<|im_end|>b",
    "\n<|im_start|>\n",
]

FIXED_TEXTS = [
    # empty and single characters
    "", " ", "  ", "a", "A", "z", "0", "9", ".", ",", "!", "?", "\n", "\t", "\r", "\r\n", "'",
    "\"", "é", "ß", "ñ", "中", "日", "한", "я", "ا", "क", "😀", "€", "\u00a0", "\u3000", "~", "\\",
    # English prose
    "Hello world",
    "Hello, world!",
    " Hello world",
    "Hello world ",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Mr. Smith went to Washington D.C. on Jan. 3rd, 2024.",
    "She said, \"I can't believe it's not butter!\" and left.",
    "e.g., i.e., etc., vs., a.k.a.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case-name",
    "Once upon a time, in a small village, there lived a curious girl named Alice.",
    # contractions
    "don't", "Don't", "DON'T", "I'll", "I'LL", "they've", "They've", "we're", "you'd",
    "it's", "He's", "I'm", "I'M", "can't won't shouldn't", "y'all'd've", "'tis", "o'clock",
    "rock 'n' roll", "the dogs' bones", "James's car",
    "I'VE SEEN THEY'RE WE'D",
    # digits and numbers
    "1", "12", "123", "1234", "12345", "1234567890", "12345678901234567890",
    "3.14159", "3.14159265358979323846", "-42", "+1 (555) 123-4567", "1,000,000", "1e-10",
    "0x7fffffff", "0b1010", "2024-01-15", "15/01/2024", "12:34:56", "2024-01-15T12:34:56Z",
    "$19.99", "100%", "1st 2nd 3rd 4th", "v1.2.3-rc.1", "192.168.0.1", "٣٤٥", "१२३",
    "１２３", "Ⅻ", "½ ¾ ⅓",
    # whitespace runs
    "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a\nb", "a\n\nb", "a\n\n\nb", "\n\n\n",
    "a\r\nb", "a\r\n\r\nb", "   leading", "trailing   ", "  both  ", "space before newline \n",
    "spaces  \n  after", " \n \n ", "\t\n\t\n", "        eight spaces", "\t\tdouble tab",
    "line1\nline2\nline3\n", "word \t mixed \t whitespace", "\u00a0nbsp\u00a0", "a\u2003b\u2009c",
    "    \n", "\n    ", "x" + " " * 40 + "y", "\n" * 12,
    # punctuation runs
    "...", "!!!", "???", "?!?!", "---", "***", "=====", "<<<>>>", "(((nested)))",
    "a...b", "Wait... what?!", "--flag --other-flag=value", "#!/bin/sh", "@@ -1,3 +1,4 @@",
    "¡¿Qué?!", "«guillemets»", "“smart quotes” ‘single’", "— en – dash", "…", "•◦▪",
    "~!@#$%^&*()_+`-={}|[]\\:\";'<>?,./",
    # URLs, emails, paths
    "https://www.example.com/path/to/page?query=1&other=two#fragment",
    "http://localhost:8080/api/v1/users/42",
    "user.name+tag@example.co.uk",
    "/usr/local/lib/python3.11/site-packages/numpy/__init__.py",
    "C:\\Users\\Admin\\Documents\\file.txt",
    "git@github.com:ggml-org/llama.cpp.git",
    # JSON / markup / markdown
    "{\"name\": \"Alice\", \"age\": 30, \"tags\": [\"a\", \"b\"], \"ok\": true, \"x\": null}",
    "{\n  \"key\": \"value\",\n  \"nested\": {\n    \"n\": 1.5e3\n  }\n}",
    "[1, 2, 3, 4, 5]",
    "<html><body><p class=\"x\">Hello &amp; goodbye</p></body></html>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "# Heading\n\n## Subheading\n\n- item one\n- item two\n\n**bold** and *italic* and `code`\n",
    "| col1 | col2 |\n|------|------|\n| a    | b    |\n",
    "```python\nprint('hi')\n```\n",
    "[link](https://example.com) ![img](a.png)",
    "> quoted text\n>> nested quote",
    "$$\\int_0^\\infty e^{-x^2} dx = \\frac{\\sqrt{\\pi}}{2}$$",
    "name: specula\nversion: 0.1\ndeps:\n  - libc\n",
    "SELECT id, name FROM users WHERE age > 21 ORDER BY name;",
    # code: Python
    "def add(a, b):\n    return a + b\n",
    "import numpy as np\n\nx = np.zeros((3, 4), dtype=np.float32)\nprint(x.shape)\n",
    "class Foo(Base):\n    \"\"\"Docstring.\"\"\"\n\n    def __init__(self, x: int = 0) -> None:\n"
    "        self._x = x  # comment\n",
    "for i in range(10):\n\tif i % 2 == 0:\n\t\tprint(i)\n",
    "    return [x**2 for x in xs if x > 0]   \n",
    "lambda x: x if x else None",
    "f\"{name!r:>10}\"",
    "async def main():\n    await asyncio.sleep(0.1)\n",
    # code: C
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    printf(\"%d\\n\", argc);\n"
    "    return 0;\n}\n",
    "static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }",
    "for (size_t i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "typedef struct { float *data; int64_t ne[4]; } tensor_t;",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "if (p == NULL) { fprintf(stderr, \"oom\\n\"); exit(1); }   ",
    "/* block comment */ // line comment\n",
    "x->y->z = &w[0]; *p++ = ~q; a ^= b; c <<= 2; d != e && f || !g;",
    # code: JavaScript
    "const add = (a, b) => a + b;\nconsole.log(add(1, 2));\n",
    "function fetchData(url) {\n  return fetch(url).then(res => res.json());\n}\n",
    "let s = `template ${value} string`; if (a === b && c !== d) { x ??= y; }",
    "export default class App extends React.Component {\n  render() {\n    return <div/>;\n  }\n}\n",
    # code: Rust
    "fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{:?}\", v);\n}\n",
    "impl<'a, T: Clone + Send> Iterator for Foo<'a, T> {\n    type Item = &'a T;\n}\n",
    "match x {\n    Some(ref y) if *y > 0 => y.to_string(),\n    _ => String::new(),\n}\n",
    "#[derive(Debug, Clone, PartialEq)]\npub struct Point { x: f64, y: f64 }",
    # other code
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "echo \"$HOME\" | grep -E '^/root' && ls -la ~/ 2>/dev/null",
    "public static void main(String[] args) { System.out.println(\"Hello\"); }",
    "    \t  \n\t    mixed indent\n",
    # CJK
    "你好，世界！",
    "我们今天去公园散步，天气非常好。",
    "机器学习是人工智能的一个分支。",
    "日本語のテキストです。",
    "こんにちは、お元気ですか？",
    "カタカナとひらがなと漢字が混ざった文章。",
    "東京は日本の首都です。",
    "안녕하세요, 세계!",
    "한국어 문장을 토큰화합니다.",
    "中文English混合text测试123",
    "繁體中文與簡體中文",
    # emoji
    "😀😃😄😁", "👍", "👍🏽", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🇺🇸🇯🇵🇫🇷", "🇩🇪",
    "❤️", "I ❤️ Python 🐍!", "🎉🎉🎉 Party time! 🎉", "1️⃣ 2️⃣ #️⃣", "🧑🏿‍🚀",
    # accented Latin and other scripts
    "café naïve résumé façade", "Ærøskøbing", "Straße größer Fuß", "ñandú pingüino",
    "Ça va? Très bien, merci.", "Zürich, Köln, Malmö", "łódź źdźbło", "Đ đ Ő ő Ű ű",
    "e\u0301 vs \u00e9 (combining acute)", "ﬁ ﬂ ligatures",
    "Привет, мир!", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "ПРОПИСНЫЕ буквы", "Київ Україна",
    "مرحبا بالعالم", "اللغة العربية جميلة.", "שלום עולם",
    "नमस्ते दुनिया", "हिन्दी भाषा में एक वाक्य।", "Γειά σου Κόσμε", "สวัสดีชาวโลก",
    "Xin chào thế giới", "Tiếng Việt có dấu",
    # misc edge
    "\u200b zero width space", "\ufeffBOM at start", "tab\there", "a" * 100,
    "ab" * 50, "the the the the the the the the", "x=1;y=2;z=3", "a-b_c.d/e\\f",
    "Ǆǅǆ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙", "𐍈 gothic", "\U0001F600\U0001F601",
    LONG_PARAGRAPH,
]

# Gemma's chat markup and other Gemma 3 control / user-defined tokens; tokenized both with
# special=0 and special=1, for gemma3-270m only (appended after the shared cases)
GEMMA_CHAT = ("<start_of_turn>user\nYou are a helpful assistant.\n\nhi<end_of_turn>\n"
              "<start_of_turn>model\nHello! How can I help?<end_of_turn>\n")
GEMMA_SPECIAL_TEXTS = [
    "<start_of_turn>user\nhi<end_of_turn>\n",
    GEMMA_CHAT,
    "<start_of_turn>model\n",
    "<start_of_turn>",
    "<end_of_turn>",
    "<end_of_turn><start_of_turn>",
    "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "</s>", "[multimodal]",
    "text<eos>more text",
    " <start_of_turn> spaced <end_of_turn> ",
    "<start_of_turn>user\n  leading spaces\n\n<end_of_turn>\n",
    "<start_of_turn user\nnot quite special<end_of_turn",
    "<start_of_turn><start_of_turn><end_of_turn><end_of_turn>",
    "a<end_of_turn>b",
    "\n<start_of_turn>\n",
    "<unused0><unused6241>x<unused99>",
    "<start_of_image><end_of_image>",
    "<table><tr><td>x</td></tr></table>",
    "<h1>Title</h1>\n<b>bold</b> <code>x = 1</code> <s>struck</s>",
    "<0x41><0x0A>",
]

RANDOM_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " " * 6 + "\t\n",
    "\r\n",
    ".,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`",
    "éèêëàâäçñöüßøåÆŒ",
    "你好世界中文字符学习机器人工智能",
    "ひらがなカタカナ漢字日本語",
    "한국어문장세계",
    "ПриветмирЖжЩщ",
    "مرحبابالعالم",
    "नमस्तेदुनिया",
    "😀🐍🎉❤️👍🏽🇺🇸🇯🇵👨‍👩‍👧",
]
RANDOM_WORDS = ["the", "The", " the", "don't", "I'LL", "they've", "hello", "  ", "\n\n",
                "def", "return", "{", "}", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
                "1234567", "3.14", "...", "世界", "😀", " ", "\t", "\r\n", "café", "Привет",
                "<tool_call>"]


def random_texts(seed=20240601, n=150):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.35:
                parts.append(rng.choice(RANDOM_WORDS))
            else:
                pool = rng.choice(RANDOM_POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        s = "".join(parts)
        out.append((1 if i % 3 == 0 else 0, s))
    return out


def tok_cases():
    cases = [(0, t) for t in FIXED_TEXTS]
    for t in SPECIAL_TEXTS:
        cases.append((0, t))
        cases.append((1, t))
    # a few plain texts with special=1 too (must match special=0 when no special strings)
    for t in ["Hello world", "def add(a, b):\n    return a + b\n", "你好，世界！", "", "don't",
              "  \n\n  ", "👨‍👩‍👧‍👦", LONG_PARAGRAPH]:
        cases.append((1, t))
    cases += random_texts()
    for _, t in cases:
        t.encode("utf-8")  # must be valid UTF-8 (no lone surrogates)
    return cases


def gemma_tok_cases():
    cases = []
    for t in GEMMA_SPECIAL_TEXTS:
        cases.append((0, t))
        cases.append((1, t))
    return cases


def gen_tok(name, cases):
    llm = llama_cpp.Llama(model_path(name), vocab_only=True, verbose=False)
    lines = []
    for special, text in cases:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=bool(special))
        lines.append("%d\t%s\t%s" % (special, text.encode("utf-8").hex(),
                                      " ".join(str(i) for i in ids)))
    del llm
    return lines


# --------------------------------------------------------------------------------------------
# greedy / logit goldens

CHAT_QUESTION = "What is the capital of Japan? Answer in one sentence."
CHAT_PROMPT = 2  # index in GEN_PROMPTS
GEN_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    + CHAT_QUESTION + "<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "#include <stdio.h>\n\n/* print the first ten squares */\nint main(void) {\n",
    # a longer prompt (a few hundred tokens), still one batch
    LONG_PARAGRAPH + "\nQuestion: What does speculative decoding use to propose tokens?\n"
    "Answer:",
]


def gen_prompts(name):
    prompts = list(GEN_PROMPTS)
    if CHAT_TEMPLATE.get(name) == "gemma":
        prompts[CHAT_PROMPT] = ("<start_of_turn>user\n" + CHAT_QUESTION +
                                "<end_of_turn>\n<start_of_turn>model\n")
    return prompts


def gen_greedy(name):
    llm = llama_cpp.Llama(model_path(name), n_ctx=2048, n_batch=2048, n_ubatch=2048,
                          n_threads=2, n_threads_batch=2, logits_all=False, flash_attn=False,
                          verbose=False)
    n_vocab = llm.n_vocab()
    ctx = llm.ctx
    out, stats = [], []
    for prompt in gen_prompts(name):
        ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if name in BOS_MODELS:
            assert llm.token_bos() >= 0 and ids[:1] != [llm.token_bos()]
            ids = [llm.token_bos()] + ids
        assert len(ids) <= 2048 - N_GEN
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        greedy, tops = [], []
        for step in range(N_GEN):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                           shape=(n_vocab,)).copy()
            order = np.argsort(-logits, kind="stable")[:N_TOP]
            tops.append(" ".join("%d:%.5f" % (int(i), float(logits[i])) for i in order))
            tok = int(order[0])
            greedy.append(tok)
            if step + 1 < N_GEN:
                llm.eval([tok])
        t2 = time.perf_counter()
        stats.append((len(ids), t1 - t0, N_GEN - 1, t2 - t1))
        out.append("prompt " + " ".join(str(i) for i in ids))
        out.append("greedy " + " ".join(str(i) for i in greedy))
        for step, t in enumerate(tops):
            out.append("top %d %s" % (step, t))
        out.append("")
        text = llm.detokenize(greedy, special=True).decode("utf-8", errors="replace")
        print("  [%s] %d prompt tokens -> %r" % (name, len(ids), text))
    for n_p, tp, n_g, tg in stats:
        print("  [%s] prompt %d tok in %.3fs (%.1f tok/s); %d gen evals in %.3fs (%.1f tok/s)"
              % (name, n_p, tp, n_p / tp, n_g, tg, n_g / tg))
    del llm
    return out[:-1]  # no blank line after the last prompt


def write(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d bytes)" % (os.path.relpath(path, ROOT), os.path.getsize(path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["tok", "gen"])
    args = ap.parse_args()
    print("llama-cpp-python", llama_cpp.__version__)
    os.makedirs(OUT, exist_ok=True)
    if args.only in (None, "tok"):
        cases = tok_cases()
        print("%d tokenizer cases" % len(cases))
        ref = {}
        for name in MODELS:
            lines = gen_tok(name, cases)
            if name == "gemma3-270m":
                lines += gen_tok(name, gemma_tok_cases())
            same_as = next((k for k, v in ref.items() if v == lines and
                            k.split("-")[0] == name.split("-")[0]), None)
            if same_as:
                print("%s: tokenization identical to %s, not written" % (name, same_as))
                stale = os.path.join(OUT, "tok-%s.txt" % name)
                if os.path.exists(stale):
                    os.remove(stale)
                continue
            ref[name] = lines
            write(os.path.join(OUT, "tok-%s.txt" % name), lines)
    if args.only in (None, "gen"):
        for name in MODELS:
            write(os.path.join(OUT, "gen-%s.txt" % name), gen_greedy(name))


if __name__ == "__main__":
    sys.exit(main())
