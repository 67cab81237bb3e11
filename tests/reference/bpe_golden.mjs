#!/usr/bin/env node
// Golden data for herd's byte-level BPE: Llama 3's tokenizer.json run through
// Hugging Face tokenizers (the Rust library, through the npm binding
// @anush008/tokenizers with its linux-x64 binary).
//
//   node tests/reference/bpe_golden.mjs [--tokenizer tokenizer.json]
//        [--out-dir tests/fixtures] [--peers DIR]
//
// DIR holds node_modules/@anush008/tokenizers (default: $HERD_PEERS or
// /root/.cache/herd-peers/hf-tokenizers), installed with
//   npm install @anush008/tokenizers
//
// Writes two files; lines starting with # are comments.
//   bpe_llama3.txt          <escaped text> TAB <ids>
//       encode(text, addSpecialTokens=false). No text holds a special token.
//   bpe_llama3_special.txt  <escaped text> TAB <ids with special tokens> TAB <plain ids>
//       The first as above (Hugging Face always splits out added tokens);
//       the second from the same tokenizer with its added tokens removed,
//       so "<|eot_id|>" is encoded as ordinary text.
// Escapes: \\ \t \n \r and \u{hex} for other control and invisible
// characters; everything else is UTF-8 as is. ids are space-separated.
// The corpus is built here, deterministically (a seeded PRNG).
import fs from 'fs';
import path from 'path';
import { here, opt, tokPath, Tokenizer, version } from './hf_peer.mjs';

const outDir = opt('--out-dir', path.join(here, '../fixtures'));

// ---- a seeded PRNG (mulberry32) ----
let seed = 20240418;
function rand() {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const cp = (...c) => String.fromCodePoint(...c);

// ---- the corpus ----
const english = [
  'Hello world', 'Hello, world!', ' Hello', 'Hello ', 'hello', 'HELLO', 'HeLLo WoRLD',
  'The quick brown fox jumps over the lazy dog.',
  'Once upon a time, there was a little girl named Lily. She loved to play outside.',
  "It was the best of times, it was the worst of times, it was the age of wisdom.",
  'The Llama 3 tokenizer uses a vocabulary of 128,256 tokens.',
  'Call me Ishmael. Some years ago—never mind how long precisely—having little money...',
  'To be, or not to be, that is the question:\nWhether \'tis nobler in the mind to suffer',
  'e.g. i.e. etc. Mr. Mrs. Dr. St. U.S.A. a.m. p.m.',
  'email: someone@example.com, url: https://www.example.org/path?q=1&r=two#frag',
  'C:\\Program Files\\herd\\bin\\herd.exe --model ./models/llama-3-8b.gguf',
  '#hashtag @mention $TICKER 100% (parenthesised) [bracketed] {braced} <angled>',
  'He said, "Don\'t go!" and she replied, \'Why not?\'',
  'rock\'n\'roll, o\'clock, ma\'am, y\'all, \'90s, students\' books',
  'ALL CAPS SENTENCE WITH SOME WORDS.', 'snake_case_identifier and camelCaseIdentifier and kebab-case-id',
  'Mixed123Numbers456In789Words', 'A', 'a', 'I', 'x y z', 'a.b.c', '...', '!!!???', '----', '____',
  '***bold*** _italic_ `code` ~~strike~~', '| a | b |\n|---|---|\n| 1 | 2 |',
  '> quoted line\n>> nested quote', '- item one\n- item two\n  - nested item',
  'Version 1.2.3-beta+build.45', 'The year 1999 and the year 2024.', 'Tel: +1 (555) 123-4567',
];

const world = [
  '你好，世界！今天天气很好。', '我爱自然语言处理和机器学习。', '中华人民共和国成立于1949年。',
  '日本語のテキストです。ひらがな、カタカナ、漢字。', '東京は日本の首都です', 'ｶﾀｶﾅ ﾊﾝｶｸ 半角カナ',
  'すもももももももものうち', '한국어 텍스트입니다', '안녕하세요, 세계! 반갑습니다.',
  'Привет, мир! Как дела?', 'Съешь же ещё этих мягких французских булок, да выпей чаю.',
  'Γειά σου Κόσμε', 'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία', 'مرحبا بالعالم', 'اللغة العربية جميلة جداً.',
  'שלום עולם', 'नमस्ते दुनिया', 'हिन्दी भाषा भारत की राजभाषा है।', 'สวัสดีชาวโลก', 'ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ',
  'Tiếng Việt có dấu: Xin chào thế giới', 'Türkçe: Şişli\'de çığ düştü.', 'Polski: Zażółć gęślą jaźń',
  'Čeština: Příliš žluťoučký kůň úpěl ďábelské ódy.', 'Deutsch: Größenwahn, Fußgängerübergänge, Straße',
  'Français: « Ça va ? » Où êtes-vous ? Noël, cœur, æther', 'Español: ¿Qué tal? ¡Hola! Año, niño',
  'Português: ação, coração, pão', 'Íslenska: Þórður, ð, æ', 'Ελληνικά και English mixed 混合 text',
  'ქართული ენა', 'Հայերեն', 'አማርኛ', 'தமிழ் மொழி', 'বাংলা ভাষা', 'ᠮᠣᠩᠭᠣᠯ', 'ꦗꦮ',
  'e\u0301 combining acute, n\u0303 combining tilde, a\u0308\u0304 two marks',
  'Z\u0351\u036b\u0343a\u0310l\u0357g\u0314o\u0306 text', 'ﬁ ﬂ ligatures, ẞ capital sharp s',
  '𝐀𝐁𝐂 mathematical bold, 𝔸𝔹ℂ double-struck', '𠀀𠀁𠀂 CJK extension B', '\ue000\uf8ff private use',
];

const emoji = [
  '😀😃😄 emoji 🎉', '👍🏻👍🏼👍🏽👍🏾👍🏿 skin tones', '👨‍👩‍👧‍👦 family ZWJ sequence', '👩🏽‍💻 technologist',
  '🏳️‍🌈 rainbow flag, 🏴‍☠️ pirate flag', '🇺🇸🇯🇵🇫🇷🇩🇪🇨🇳 flags', '🇺🇸 🇬🇧', '🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland tag sequence',
  '1️⃣ 2️⃣ #️⃣ *️⃣ keycaps', '❤️ ❤ ♥️ variation selectors', '🧑‍🤝‍🧑 people holding hands',
  '😀', '🤖🦙🔥💯', 'I ❤️ NY', 'emoji🙂inside🙃words', '👨‍👨‍👧‍👧👩‍❤️‍💋‍👨',
];

const code = [
  'int main(void) { printf("%d\\n", 42); return 0; }',
  'for (int i = 0; i < n; i++) {\n        a[i] += b[i];\n    }',
  'def f(x):\n\tif x > 0:\n\t\treturn x * 2  # double\n    return -x\n',
  'import numpy as np\nx = np.arange(10).reshape(2, 5)\nprint(x.T @ x)\n',
  'const add = (a, b) => a + b;\nconsole.log(`sum: ${add(1, 2)}`);',
  'fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}',
  'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello")\n}\n',
  'SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;',
  '<!DOCTYPE html>\n<html><head><title>Test</title></head><body><p class="x">Hi</p></body></html>',
  '{"key": "value", "list": [1, 2.5, -3e10, true, null], "nested": {"a": {}}}',
  '#!/bin/sh\nset -eu\nfor f in *.txt; do echo "$f" | tr a-z A-Z; done 2>/dev/null',
  '\\begin{equation} E = mc^2 \\quad \\int_0^\\infty e^{-x^2} dx = \\frac{\\sqrt{\\pi}}{2} \\end{equation}',
  'main :: IO ()\nmain = mapM_ print [x | x <- [1..10], even x]',
  '(defun fact (n) (if (<= n 1) 1 (* n (fact (- n 1)))))',
  'x+=1;y-=2;z*=3;w/=4;a%=5;b<<=6;c>>=7;d&=8;e|=9;f^=10;',
  'if (a != b && c == d || !e) { return a->b.c[0]; }',
  'std::vector<std::pair<int, std::string>> v{{1, "one"}};',
  '    \n    \n        indented block\n\t\tmixed\t indentation  \n',
  'regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$',
  'x = 0x1F; y = 0b1010; z = 0o777; w = 1_000_000; v = 1e-9;',
];

const numbers = [];
for (let d = 1; d <= 20; d++) {
  let s = '';
  for (let i = 0; i < d; i++) s += String((i * 7 + d * 3 + 1) % 10);
  numbers.push(s, 'n=' + s, ' ' + s, s + ' items', '-' + s);
}
numbers.push('1,234', '12,345', '1,234,567', '1,000,000,000', '1.000.000', '1 000 000', '1\u202f000',
  '3.14159265358979323846', '2.5e-10', '-0.0', '+42', '$12.50', '€1.234,56', '50%', '1/2', '3:45pm',
  '2024-01-01T12:34:56Z', '192.168.0.1', '555-1234', '(555) 123-4567', '4111 1111 1111 1111',
  '１２３ fullwidth', '١٢٣٤٥ Arabic-Indic', '०१२३४५६ Devanagari', '² ³ ¹ superscripts', '½ ¾ ⅓ fractions',
  'Ⅻ Ⅳ roman numerals', '①②③ circled', '𝟙𝟚𝟛 math digits', '0', '00', '000', '0000', '007', '9'.repeat(40),
  'v1.2.3', 'A1B2C3', 'x86_64', 'COVID-19', 'mp3 mp4 h264 4k 1080p');

const contractions = [];
const forms = ['s', 't', 're', 've', 'm', 'll', 'd'];
const cases = (w) => {
  const out = new Set([w, w.toUpperCase()]);
  if (w.length === 2) { out.add(w[0].toUpperCase() + w[1]); out.add(w[0] + w[1].toUpperCase()); }
  return [...out];
};
for (const f of forms)
  for (const c of cases(f))
    contractions.push("'" + c, "x'" + c, "it'" + c + ' fine', "'" + c + 'x', " '" + c);
contractions.push("I'M", "DON'T", "I'm", "don't", "WE'RE", "They'Ve", "YOU'LL", "She'D", "it's", "It'S",
  "can't won't shouldn't", "CAN'T WON'T SHOULDN'T", "O'Neil's", "rock'n'roll", "'''", "''s", "'s's",
  "it’s curly apostrophe", "IT’S", "don`t backtick", "the cat'ſ hat", "'ſt", "'ſ", "'K kelvin", "'ǅ",
  "'İ", "'ß", "x'\u0073\u0307", "'S'T'RE'VE'M'LL'D", "'st 'tre 'rev 'vem 'mll 'lld");

const spaces = [];
for (let k = 1; k <= 17; k++) spaces.push(' '.repeat(k), 'a' + ' '.repeat(k) + 'b', ' '.repeat(k) + 'x');
spaces.push('\t', '\t\t', 'a\tb', '\t\tindented with tabs\n\tand more', '\n', '\n\n', '\n\n\n', '\r\n',
  '\r\n\r\n', 'a\r\nb', 'line one\nline two\n\nline four\r\nwindows line\r\n', '\r', 'a\rb', ' \n', '\n ',
  ' \n ', '  \n  ', 'a \n b', 'a\n \nb', 'x \t \n \r\n y', '\t \t \t', '   leading', 'trailing   ',
  '   both   ', 'end with newline\n', 'end with spaces and newline  \n', 'end  ', ' . ', ' .\n', '.\n\n',
  '!\r\n', 'word\n\n\n\nword', 'a \u00a0b', '\u00a0', 'a\u00a0\u00a0b', '\u2000\u2001\u2002\u2003\u2004',
  'a\u2005\u2006\u2007\u2008\u2009\u200ab', '\u3000ideographic\u3000space', 'a\u0085b', '\u0085',
  'x\u2028y\u2029z', 'a\u1680b', 'a\u180eb', 'a\u202fb', 'a\u205fb', '\ufeffBOM at start', 'a\ufeffb',
  'zero\u200bwidth\u200cjoiners\u200d', 'a\u000bb\u000cc', 'a\u001cb\u001dc\u001ed\u001ff',
  'a \u00a0 \u3000 b', '\u00a0\n', '\n\u00a0', ' \u0085 ', '\t\u00a0\t', 'a\u200b b',
  'tab\tseparated\tvalues\t1\t2', '    four-space indent\n        eight', 'a\n\tb\n\t\tc');

const punct = [
  '«guillemets» ‹single›', '“curly double” ‘curly single’', '— em dash – en dash ‐ hyphen',
  '… ellipsis', '¿inverted? ¡marks!', '、。「」『』【】〈〉', '‼ ⁉ ⁇ ⁈', '• · ‧ ∙ bullets', '§ ¶ † ‡',
  '© ® ™ ℠', '€ £ ¥ ₹ ₿ ¢ ₩ ₽', '∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x|', '→ ← ↑ ↓ ⇔ ↦', '★☆♠♣♥♦', '°C °F ‰ ‱',
  '，：；！？（）', '«»„“”', 'a—b–c', '¡¿', '⟨⟩⟪⟫', '\ufffd replacement char', '٪ ؟ ، Arabic punctuation',
];

// Case folding (Kelvin sign, long s) and characters of recent Unicode
// versions, where the regex engines' tables could differ.
const unicode = [
  "'\u212A", "'\u212Aelvin", "'ſtuff", "It'ſ fine", "'\u017F\u017F", 'a\u{1E030}b', ' \u{1E030}\u{1E031}x',
  'x\u{11F04}\u{11F05}', ' \u{31350}\u{31351}', ' \u{2EBF0}\u{2EBF1}', '1\u{1E4F0}2', 'a\u{1FAE8}b',
  'x\u{10EFD}y', '\u0130stanbul \u0131', 'ǅemal ǈ ǋ', 'ΐ ΰ ﬀ', '\u{10400}\u{10428}', 'ꭰ Ꭰ',
];

const long = [
  'a'.repeat(300), 'ab'.repeat(400), 'abc '.repeat(100), 'supercalifragilisticexpialidocious'.repeat(8),
  'Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft',
  'pneumonoultramicroscopicsilicovolcanoconiosis', '1234567890'.repeat(20), '。'.repeat(50),
  '我'.repeat(200), '😀'.repeat(60), '!'.repeat(120), ' '.repeat(300) + 'x', '\n'.repeat(100),
  'https://example.com/' + 'very/long/path/'.repeat(15) + 'index.html?x=' + 'y'.repeat(40),
  'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=',
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '.repeat(6),
];
long.push(Array.from({ length: 400 }, () => pick('abcdefghijklmnopqrstuvwxyz')).join(''));
long.push(Array.from({ length: 300 }, () => pick('абвгдежзийклмнопрстуфхцчшщъыьэюя')).join(''));

const ascii = [];
for (let c = 0x20; c < 0x7f; c++) ascii.push(String.fromCharCode(c), ' ' + String.fromCharCode(c));
for (let c = 0; c < 0x20; c++) ascii.push('[' + String.fromCharCode(c) + ']');
ascii.push('\x7f', 'NUL\x00byte', '');

// Random mixtures of everything above.
const pool = [...english, ...world, ...emoji, ...code, ...numbers, ...contractions, ...spaces, ...punct,
  ...unicode];
const glue = ['', ' ', '  ', '\n', '\t', '\r\n', ' \n', '\u00a0', ', ', '. '];
const mixes = [];
for (let i = 0; i < 80; i++) {
  let s = '';
  const k = 2 + Math.floor(rand() * 4);
  for (let j = 0; j < k; j++) s += (j ? pick(glue) : '') + pick(pool);
  mixes.push(s);
}

const corpus = [...english, ...world, ...emoji, ...code, ...numbers, ...contractions, ...spaces,
  ...punct, ...unicode, ...long, ...ascii, ...mixes];

// Texts with special tokens (Llama 3's chat format and near misses).
const specials = [
  '<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|begin_of_text|>Hello world',
  '<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n',
  'a<|eot_id|>b', '<|eot_id|><|eot_id|>', ' <|eot_id|> ', '\n<|eot_id|>\n', 'x <|eot_id|>y',
  '<<|eot_id|>>', '<|<|eot_id|>|>', '<|eot_id|', '<|eot_id', 'eot_id|>', '<|not_a_token|>', '<||>',
  '<|reserved_special_token_0|>', '<|reserved_special_token_17|>', '<|reserved_special_token_250|>',
  '<|reserved_special_token_251|>', '<|begin_of_text|><|end_of_text|>', '<|end_header_id|>\n\n',
  'text<|end_of_text|>', '<|EOT_ID|>', '< |eot_id| >', '<|eot_id|>😀<|eot_id|>',
  'I\'m <|start_header_id|>user<|end_header_id|> 123456',
];

// ---- writing ----
function escape(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0xad || (c >= 0x200b && c <= 0x200f) ||
             (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c === 0xfeff ||
             c === 0x180e || (c >= 0xe0000 && c <= 0xe007f))
      out += '\\u{' + c.toString(16) + '}';
    else out += ch;
  }
  return out;
}

const encode = async (tok, s) => (await tok.encode(s, null, { addSpecialTokens: false })).getIds();

const tok = Tokenizer.fromFile(tokPath);
const json = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
json.added_tokens = [];
const plainTok = Tokenizer.fromString(JSON.stringify(json));

const head = (what) => [
  `# herd golden data: ${path.basename(tokPath)} (Llama 3) through Hugging Face tokenizers`,
  `# (npm @anush008/tokenizers ${version}), written by tests/reference/bpe_golden.mjs.`,
  `# ${what}`,
];
const seen = new Set();
const lines = head('escaped text TAB ids of encode(text, addSpecialTokens=false)');
for (const s of corpus) {
  if (seen.has(s)) continue;
  seen.add(s);
  if (s.includes('<|') && s.includes('|>')) throw new Error('special-looking text in the corpus: ' + s);
  lines.push(escape(s) + '\t' + (await encode(tok, s)).join(' '));
}
fs.writeFileSync(path.join(outDir, 'bpe_llama3.txt'), lines.join('\n') + '\n');

const slines = head('escaped text TAB ids with special tokens TAB ids with them as plain text');
for (const s of specials)
  slines.push(escape(s) + '\t' + (await encode(tok, s)).join(' ') + '\t' +
              (await encode(plainTok, s)).join(' '));
fs.writeFileSync(path.join(outDir, 'bpe_llama3_special.txt'), slines.join('\n') + '\n');
console.log(`${lines.length - 3} cases, ${slines.length - 3} special cases written to ${outDir}`);
