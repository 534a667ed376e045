"""The FAQ answers every FAQ question of the seed documents; the glossary is complete and well formed.

The seed documents (``shared/seeds/*.txt``) each end with a FAQ section whose sub-headings are
questions. ``book/back/faq.md`` lists every such question in MyST comment lines

    % seed-faq | <seed file prefix> | <question as in the seed heading> | <answer anchor>

and each answer starts with a ``(faq-...)=`` label. ``book/back/glossary.md`` is a Sphinx
glossary whose entries read ``<English term>`` then ``  <Chinese term> — <definition>``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAQ = ROOT / "book" / "back" / "faq.md"
GLOSSARY = ROOT / "book" / "back" / "glossary.md"

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
FAQ_TITLE = re.compile(r"常见问题|\bFAQ\b|Frequently Asked", re.IGNORECASE)
LATE_SECTION = re.compile(r"^(?:9|10)\.")  # the FAQ is section 9, further reading section 10
NUMBERING = re.compile(r"^\d+(?:\.\d+)*\.?\s*")
QUESTION_LABEL = re.compile(r"^问题\s*\d+\s*[：:]\s*")
MAPPING = re.compile(r"^%\s*seed-faq\s*\|(.*)$", re.MULTILINE)
ANCHOR = re.compile(r"^\((faq-[a-z0-9-]+)\)=\s*$", re.MULTILINE)
TERM_ROLE = re.compile(r"\{term\}`([^`]+)`")
CJK = re.compile(r"[\u4e00-\u9fff]")
DEFINITION = re.compile(r"^(?P<zh>[^—]+?)\s+—\s+(?P<en>.+)$")
MIN_TERMS = 80

# Terms the seed documents define (seed 003's 术语表, seed 002's core concepts, the concepts
# seeds 000, 001 and 004 introduce in their sections 2-4), in the glossary's English.
SEED_TERMS = [
    "Deep learning", "Neural network", "Backpropagation", "Deep neural network",
    "Convolutional neural network", "Generative adversarial network", "Feature extraction",
    "Loss function", "Optimizer", "Hyperparameter", "Data augmentation", "Mean squared error",
    "Cross-entropy", "Stochastic gradient descent", "Adam", "Recurrent neural network",
    "Transformer", "Reinforcement learning", "Transfer learning", "Sequence to sequence",
    "Attention", "Neural style transfer", "Deep Q-network", "Encoder", "Decoder", "Generator",
    "Discriminator", "Q-function", "Word embedding", "Gradient descent", "Convolution",
    "Natural language processing", "Computer vision", "Multilayer perceptron", "Pooling",
    "Activation function", "Forward pass", "Positional encoding", "Autoencoder",
    "Object detection", "Semantic segmentation", "Long short-term memory", "Gram matrix",
]


# ---------------------------------------------------------------------------- parsing


def headings(text: str) -> list[tuple[int, str]]:
    """Markdown headings as (level, title), skipping fenced code (where '#' starts a comment)."""
    found, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        match = HEADING.match(line)
        if match and not in_code:
            found.append((len(match.group(1)), match.group(2)))
    return found


def question_text(title: str) -> str:
    """A heading title without its section number and any '问题N：' label."""
    return QUESTION_LABEL.sub("", NUMBERING.sub("", title.strip())).strip()


def seed_questions(text: str) -> list[str]:
    """The questions of a seed's FAQ section: its sub-headings that end in a question mark."""
    found = headings(text)
    for i, (level, title) in enumerate(found):
        if FAQ_TITLE.search(title):
            questions = []
            for sub_level, sub_title in found[i + 1:]:
                if sub_level <= level:
                    break
                question = question_text(sub_title)
                if question.endswith(("？", "?")):
                    questions.append(question)
            return questions
    return []


def is_truncated(text: str) -> bool:
    """True if a seed stops before its FAQ: no section 9 or 10 heading at all."""
    return not any(LATE_SECTION.match(title) for _, title in headings(text))


def mapping_lines(text: str) -> list[tuple[str, str, str]]:
    """The ``% seed-faq | prefix | question | anchor`` lines of the FAQ page."""
    rows = []
    for body in MAPPING.findall(text):
        parts = [part.strip() for part in body.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"malformed seed-faq line {body!r}: expected 'prefix | question | anchor'")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def unmapped(questions: dict[str, list[str]], mapping: list[tuple[str, str, str]],
             anchors: set[str]) -> list[str]:
    """Seed questions with no mapping line, or whose mapped anchor is not on the page."""
    target = {(prefix, question): anchor for prefix, question, anchor in mapping}
    problems = []
    for prefix, asked in questions.items():
        for question in asked:
            anchor = target.get((prefix, question))
            if anchor is None:
                problems.append(f"{prefix}: {question!r} has no seed-faq line")
            elif anchor not in anchors:
                problems.append(f"{prefix}: {question!r} maps to {anchor!r}, not a (label)= on the page")
    return problems


def stale(questions: dict[str, list[str]], mapping: list[tuple[str, str, str]]) -> list[str]:
    """Mapping lines that name no real seed question, and lines listed twice."""
    problems = [f"{prefix}: {question!r} is not a FAQ question of that seed"
                for prefix, question, _ in mapping if question not in questions.get(prefix, [])]
    twice = [row for row, n in Counter(mapping).items() if n > 1]
    return problems + [f"listed twice: {row}" for row in twice]


def answer_sections(text: str) -> dict[str, str]:
    """Each FAQ anchor with the text from its label to the next label."""
    marks = list(ANCHOR.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1): text[m.end():end] for m, end in zip(marks, ends, strict=True)}


def answer_problems(sections: dict[str, str]) -> list[str]:
    """Answers whose label is not directly above a heading, or that link to no runnable chapter."""
    problems = []
    for anchor, body in sections.items():
        if not body.lstrip("\n").startswith("#"):
            problems.append(f"{anchor}: the label is not directly above a heading")
        if not re.search(r"\{doc\}`[^`]*notebooks/", body):  # a chapter marked "coming" does not count
            problems.append(f"{anchor}: links to no runnable chapter")
    return problems


def glossary_entries(text: str) -> list[tuple[str, list[str]]]:
    """(term, definition lines) for every entry of the page's ```{glossary} block."""
    match = re.search(r"^```\{glossary\}[^\n]*\n(.*?)^```\s*$", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise ValueError("no ```{glossary} block found")
    entries: list[tuple[str, list[str]]] = []
    for line in match.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line[0].isspace():
            if not entries:
                raise ValueError(f"definition before any term: {line!r}")
            entries[-1][1].append(line.strip())
        else:
            entries.append((line.strip(), []))
    return entries


def glossary_problems(entries: list[tuple[str, list[str]]]) -> list[str]:
    """Entries that lack a Chinese term or a one-line English definition, and duplicate terms."""
    problems = []
    for term, lines in entries:
        if CJK.search(term):
            problems.append(f"{term!r}: the term itself should be English")
        if len(lines) != 1:
            problems.append(f"{term!r}: expected one definition line, found {len(lines)}")
            continue
        match = DEFINITION.match(lines[0])
        if match is None or not CJK.search(match.group("zh")):
            problems.append(f"{term!r}: expected '<Chinese term> — <definition>', got {lines[0]!r}")
        elif len(re.findall(r"[A-Za-z]{2,}", match.group("en"))) < 4:
            problems.append(f"{term!r}: the definition is not an English sentence: {match.group('en')!r}")
    counts = Counter(term.lower() for term, _ in entries)
    problems += [f"{term!r} is defined {n} times" for term, n in counts.items() if n > 1]
    return problems


def term_targets(text: str) -> set[str]:
    """The glossary terms a page references with {term}`...` (``text <term>`` form included)."""
    targets = set()
    for role in TERM_ROLE.findall(text):
        explicit = re.search(r"<([^<>]+)>\s*$", role)
        target = explicit.group(1) if explicit else role
        targets.add(" ".join(target.split()).lower())  # Sphinx folds whitespace and case
    return targets


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def seed_faq(shared_data: Path) -> dict[str, list[str]]:
    """Seed file prefix -> its FAQ questions, for every seed that has a FAQ section."""
    seeds = sorted((shared_data.parent / "seeds").glob("*.txt"))
    if not seeds:
        pytest.fail(f"no seed documents in {shared_data.parent / 'seeds'}")
    found = {}
    for seed in seeds:
        text = seed.read_text(encoding="utf-8")
        questions = seed_questions(text)
        assert questions or is_truncated(text), (
            f"{seed.name} has sections 9/10 but no FAQ question was found: fix the parser")
        if questions:
            found[seed.name.split("_")[0]] = questions
    return found


@pytest.fixture(scope="module")
def faq_text() -> str:
    return FAQ.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def glossary_text() -> str:
    return GLOSSARY.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- the real pages


def test_seed_faq_sections_are_found(seed_faq):
    assert len(seed_faq) >= 4, f"expected FAQ sections in at least four seeds, found {sorted(seed_faq)}"
    total = sum(len(q) for q in seed_faq.values())
    print(f"{total} seed FAQ questions in {len(seed_faq)} seeds")


def test_every_seed_question_maps_to_an_answer_on_the_page(seed_faq, faq_text):
    anchors = set(ANCHOR.findall(faq_text))
    problems = unmapped(seed_faq, mapping_lines(faq_text), anchors)
    assert not problems, "\n".join(problems)


def test_every_mapping_line_names_a_real_seed_question(seed_faq, faq_text):
    problems = stale(seed_faq, mapping_lines(faq_text))
    assert not problems, "\n".join(problems)


def test_every_answer_is_labelled_and_links_to_a_chapter(faq_text):
    sections = answer_sections(faq_text)
    assert sections, "no (faq-...)= labels in faq.md"
    problems = answer_problems(sections)
    used = {anchor for _, _, anchor in mapping_lines(faq_text)}
    problems += [f"{anchor}: answers no seed question" for anchor in set(sections) - used]
    assert not problems, "\n".join(problems)


def test_glossary_is_large_and_well_formed(glossary_text):
    entries = glossary_entries(glossary_text)
    problems = glossary_problems(entries)
    assert not problems, "\n".join(problems)
    assert len(entries) >= MIN_TERMS, f"{len(entries)} glossary terms, expected at least {MIN_TERMS}"
    print(f"{len(entries)} glossary terms")


def test_glossary_defines_the_seed_terms(glossary_text):
    terms = {term.lower() for term, _ in glossary_entries(glossary_text)}
    missing = [term for term in SEED_TERMS if term.lower() not in terms]
    assert not missing, f"terms the seeds define are missing from the glossary: {missing}"


def test_term_references_resolve(faq_text, glossary_text):
    terms = {term.lower() for term, _ in glossary_entries(glossary_text)}
    unknown = (term_targets(faq_text) | term_targets(glossary_text)) - terms
    assert not unknown, f"{{term}} references to terms the glossary lacks: {sorted(unknown)}"


# ---------------------------------------------------------------------------- the checks can fail

SYNTHETIC_SEED = """## 8. 总结
### 8.1 这是问题吗？
## 9. 附录：常见问题与解答
### 9.1 问题1：什么是梯度？
```python
# 这不是标题？
```
### 9.2 说明
#### 9.2.1 为什么要归一化？
## 10. 扩展阅读
### 10.1 还有问题吗？
"""


def test_parser_takes_only_questions_of_the_faq_section():
    assert seed_questions(SYNTHETIC_SEED) == ["什么是梯度？", "为什么要归一化？"]
    assert not is_truncated(SYNTHETIC_SEED)
    assert seed_questions("## 1. 背景\n### 1.1 什么？\n") == []
    assert is_truncated("## 1. 背景\n### 1.1 什么？\n")


def test_missing_and_stale_mappings_are_reported():
    questions = {"000": ["什么是梯度？", "为什么要归一化？"]}
    mapping = [("000", "什么是梯度？", "faq-gradient"), ("001", "什么是梯度？", "faq-gradient")]
    assert unmapped(questions, mapping, {"faq-gradient"}) == [
        "000: '为什么要归一化？' has no seed-faq line"]
    assert unmapped({"000": ["什么是梯度？"]}, mapping, set()) == [
        "000: '什么是梯度？' maps to 'faq-gradient', not a (label)= on the page"]
    assert stale(questions, mapping) == ["001: '什么是梯度？' is not a FAQ question of that seed"]
    assert stale(questions, [mapping[0], mapping[0]]) == [
        "listed twice: ('000', '什么是梯度？', 'faq-gradient')"]
    with pytest.raises(ValueError, match="malformed"):
        mapping_lines("% seed-faq | 000 | 什么是梯度？\n")


def test_unlinked_and_unlabelled_answers_are_reported():
    page = ("(faq-a)=\n### A?\n\nSee {doc}`../../notebooks/03_algorithms/05_seq2seq_attention`.\n\n"
            "(faq-b)=\nText first.\n### B?\n\nNo link.\n\n"
            "(faq-c)=\n### C?\n\nChapter 6.1 (coming) will show it.\n")
    assert answer_problems(answer_sections(page)) == [
        "faq-b: the label is not directly above a heading", "faq-b: links to no runnable chapter",
        "faq-c: links to no runnable chapter"]


def test_bad_glossary_entries_are_reported():
    page = ("```{glossary}\n:sorted:\n\nGood term\n  好 — A definition with enough English words.\n\n"
            "No chinese\n  Missing — A definition with enough English words.\n\n"
            "Empty\n  空 — \n\nTwo lines\n  两 — A definition with enough English words.\n  more\n\n"
            "good term\n  好 — A definition with enough English words.\n```\n")
    problems = glossary_problems(glossary_entries(page))
    assert len(problems) == 4, problems
    assert any("'No chinese'" in p for p in problems)
    assert any("'Empty'" in p for p in problems)
    assert any("'Two lines'" in p for p in problems)
    assert any("defined 2 times" in p for p in problems)
    assert term_targets("{term}`Good term` and {term}`terms <Bad>`") == {"good term", "bad"}
