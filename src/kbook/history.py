"""Andrej Karpathy's career and open-source work as data: the tables behind chapter 1.1.

Every event names the bibliography key of its source and the confidence that the book's
fact-check gives the fact. Only facts rated High or Medium-High may be stated plainly; an
event marked ``reported`` is worded as a report ("Reported: ..."), and every event rated
below Medium-High must be marked so. ``Event`` refuses data that breaks these rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class Confidence(IntEnum):
    """How well a fact is sourced, from the fact-check's legend (higher is better)."""

    UNVERIFIED = 0
    LOW = 1
    MEDIUM = 2
    MEDIUM_HIGH = 3
    HIGH = 4

    @property
    def label(self) -> str:
        return self.name.replace("_", "-").title()


KINDS = ("education", "research", "teaching", "industry", "ideas", "open-source")
_WHEN = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


@dataclass(frozen=True)
class Event:
    """One dated fact: ``when`` is 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', as precise as the source."""

    when: str
    kind: str
    label: str  # a few words for the figure
    text: str  # one English sentence for tables
    source: str  # bibliography key
    confidence: Confidence = Confidence.HIGH
    reported: bool = False

    def __post_init__(self) -> None:
        if not _WHEN.fullmatch(self.when):
            raise ValueError(f"when={self.when!r}: expected 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'")
        try:
            _ = self.date
        except ValueError as err:
            raise ValueError(f"when={self.when!r} is not a calendar date ({err})") from err
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}: expected one of {KINDS}")
        if not (self.label.strip() and self.text.strip()):
            raise ValueError(f"event of {self.when}: label and text must not be empty")
        if not self.source.strip():
            raise ValueError(f"event {self.label!r}: needs a bibliography key as its source")
        if self.confidence < Confidence.MEDIUM_HIGH and not self.reported:
            raise ValueError(f"event {self.label!r} has confidence {self.confidence.label}: facts below "
                             "Medium-High must be marked reported=True and worded as a report")
        if self.reported != self.text.startswith("Reported"):
            raise ValueError(f"event {self.label!r}: the text must start with 'Reported' exactly when "
                             f"reported=True (got reported={self.reported})")

    @property
    def date(self) -> dt.date:
        """The first day the event can refer to (1 January for a bare year)."""
        y, m, d = ([int(p) for p in self.when.split("-")] + [1, 1])[:3]
        return dt.date(y, m, d)

    @property
    def decimal_year(self) -> float:
        """Position on a time axis: the middle of the year, month or day that ``when`` names."""
        parts = self.when.split("-")
        year = int(parts[0])
        if len(parts) == 1:
            return year + 0.5
        if len(parts) == 2:
            return year + (int(parts[1]) - 0.5) / 12
        days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        return year + (self.date.timetuple().tm_yday - 0.5) / days


@dataclass(frozen=True)
class Project:
    """One open-source project: first public commit (or release) year and month."""

    name: str
    year: int
    month: int
    language: str
    summary: str
    source: str  # bibliography key

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"project {self.name!r}: month={self.month}, expected 1-12")
        if not (self.name.strip() and self.summary.strip() and self.source.strip()):
            raise ValueError(f"project {self.name!r}: name, summary and source must not be empty")


MH = Confidence.MEDIUM_HIGH

EVENTS: tuple[Event, ...] = (
    Event("2009", "education", "BSc, Toronto",
          "Completes a BSc at the University of Toronto.", "karpathy2011staged"),
    Event("2011-05", "education", "MSc thesis, UBC",
          "Completes an MSc at the University of British Columbia with the thesis Staged learning "
          "of agile motor skills.", "karpathy2011staged"),
    Event("2011", "industry", "Google Research intern",
          "Summer internship at Google Research, the first of two.", "karpathy2014feature"),
    Event("2011", "education", "PhD starts, Stanford",
          "Starts a PhD in computer science at Stanford.",
          "karpathy2016connecting"),
    Event("2012", "research", "NIPS paper with Coates and Ng",
          "Emergence of Object-Selective Features in Unsupervised Feature Learning (NIPS 2012).",
          "coates2012emergence"),
    Event("2014", "research", "Sports-1M video CNNs",
          "Large-scale Video Classification with Convolutional Neural Networks (CVPR 2014).",
          "karpathy2014large"),
    Event("2014-07", "teaching", "Hacker's guide to NNs",
          "Publishes Hacker's guide to Neural Networks, a code-first tutorial.", "karpathy2014hacker"),
    Event("2014-09-02", "ideas", "Human vs ConvNet on ImageNet",
          "Blog post on measuring his own top-5 error on ImageNet against GoogLeNet.",
          "karpathy2014what"),
    Event("2015-01", "teaching", "CS231n, first run",
          "Teaches CS231n, Stanford's course on convolutional networks, for the first time.",
          "li2015cs231n"),
    Event("2015-05-21", "ideas", "RNN effectiveness post",
          "The Unreasonable Effectiveness of Recurrent Neural Networks, released with char-rnn.",
          "karpathy2015rnn"),
    Event("2015-06", "research", "Visualizing RNNs",
          "Visualizing and Understanding Recurrent Networks (arXiv, with Johnson and Fei-Fei Li).",
          "karpathy2015visualizing"),
    Event("2015", "research", "Image captioning (CVPR)",
          "Deep Visual-Semantic Alignments for Generating Image Descriptions (CVPR 2015).",
          "karpathy2015deep"),
    Event("2015-12-11", "industry", "OpenAI founding member",
          "Named among the founding members of OpenAI.", "openai2015introducing"),
    Event("2016-01", "teaching", "CS231n, second run",
          "Teaches CS231n a second time.", "li2016cs231n"),
    Event("2016-05-31", "ideas", "Pong from Pixels",
          "Deep Reinforcement Learning: Pong from Pixels, on policy gradients.", "karpathy2016pong"),
    Event("2016", "research", "DenseCap (CVPR)",
          "DenseCap: Fully Convolutional Localization Networks for Dense Captioning (CVPR 2016).",
          "johnson2016densecap"),
    Event("2016", "education", "PhD thesis",
          "PhD dissertation: Connecting Images and Natural Language (Stanford).",
          "karpathy2016connecting", MH),
    Event("2016-09-07", "ideas", "PhD survival guide",
          "A Survival Guide to a PhD, written as his PhD ends.", "karpathy2016survival"),
    Event("2016-12-19", "ideas", "Understand backprop",
          "Yes you should understand backprop: backpropagation is a leaky abstraction.",
          "karpathy2016backprop"),
    Event("2017-01-19", "research", "PixelCNN++",
          "PixelCNN++, with Salimans, Chen and Kingma at OpenAI (arXiv).", "salimans2017pixelcnn"),
    Event("2017-06-20", "industry", "Tesla: Director of AI",
          "Joins Tesla as Director of AI and Autopilot Vision, reporting to Elon Musk.",
          "techcrunch2017tesla"),
    Event("2017", "research", "World of Bits (ICML)",
          "World of Bits: An Open-Domain Platform for Web-Based Agents (ICML 2017).", "shi2017world"),
    Event("2017-11-11", "ideas", "Software 2.0",
          "Software 2.0: neural networks as a new kind of software, written by optimization.",
          "karpathy2017software"),
    Event("2019-04-22", "industry", "Tesla Autonomy Day",
          "Presents Tesla's fleet-driven neural network training at Autonomy Day.",
          "tesla2019autonomy"),
    Event("2019-04-25", "ideas", "Recipe for training NNs",
          "A Recipe for Training Neural Networks.", "karpathy2019recipe"),
    Event("2021-08-19", "industry", "Tesla AI Day",
          "Presents Tesla's multi-camera vision networks at AI Day.", "tesla2021ai"),
    Event("2022-07-13", "industry", "Leaves Tesla",
          "Announces that he is leaving Tesla, where he was Senior Director of AI.", "reuters2022tesla"),
    Event("2022-09", "teaching", "Zero to Hero begins",
          "Starts the Neural Networks: Zero to Hero lecture series.", "karpathy2022zero"),
    Event("2023-02", "industry", "Rejoins OpenAI",
          "Announces that he is joining OpenAI again.", "karpathy2023joining"),
    Event("2023-05", "teaching", "State of GPT",
          "State of GPT talk at Microsoft Build.", "karpathy2023state"),
    Event("2023-11", "ideas", "Intro to LLMs (LLM OS)",
          "Intro to Large Language Models talk, presenting the LLM as an operating system.",
          "karpathy2023intro"),
    Event("2024-02", "industry", "Leaves OpenAI",
          "Announces that he has left OpenAI, for the second time.", "karpathy2024left"),
    Event("2024", "industry", "Starts Eureka Labs",
          "Starts Eureka Labs, an education company; its first planned course is LLM101n.",
          "karpathy2024llm101n"),
    Event("2025-02-02", "ideas", "Vibe coding",
          "Names 'vibe coding' in a post on X.", "karpathy2025vibe"),
    Event("2025-06-17", "ideas", "Software 3.0",
          "Software Is Changing (Again) at YC AI Startup School: prompts as programs.",
          "karpathy2025software"),
    Event("2026-02-12", "teaching", "microgpt",
          "microgpt: a GPT trained and sampled in about 200 lines of dependency-free Python.",
          "karpathy2026microgpt"),
    Event("2026-05-19", "industry", "Anthropic (reported)",
          "Reported: joins Anthropic's pre-training team.", "mills2026anthropic", MH, reported=True),
)

PROJECTS: tuple[Project, ...] = (
    Project("ConvNetJS", 2014, 1, "JavaScript", "neural networks trained in the browser",
            "karpathy2014convnetjs"),
    Project("NeuralTalk", 2014, 11, "Python/NumPy", "image captioning with a multimodal RNN",
            "karpathy2014neuraltalk"),
    Project("char-rnn", 2015, 5, "Lua/Torch", "character-level RNN/LSTM language models",
            "karpathy2015char"),
    Project("NeuralTalk2", 2015, 11, "Lua/Torch", "batched GPU image captioning", "karpathy2015neuraltalk2"),
    Project("arxiv-sanity-preserver", 2015, 11, "Python", "search and recommendations for arXiv papers",
            "karpathy2015arxiv"),
    Project("micrograd", 2020, 4, "Python", "a tiny scalar autograd engine", "karpathy2020micrograd"),
    Project("minGPT", 2020, 8, "PyTorch", "a small, readable GPT", "karpathy2020mingpt"),
    Project("makemore", 2022, 6, "PyTorch", "character-level language models, bigram to Transformer",
            "karpathy2022makemore"),
    Project("nanoGPT", 2022, 12, "PyTorch", "training medium-sized GPTs", "karpathy2022nanogpt"),
    Project("llama2.c", 2023, 7, "C/PyTorch", "Llama 2 inference in one C file", "karpathy2023llama2c"),
    Project("minbpe", 2024, 2, "Python", "byte-level BPE tokenizer", "karpathy2024minbpe"),
    Project("llm.c", 2024, 4, "C/CUDA", "GPT-2 pretraining without PyTorch", "karpathy2024llmc"),
    Project("build-nanogpt", 2024, 6, "PyTorch", "GPT-2 reproduced step by step", "karpathy2024build"),
    Project("nanochat", 2025, 10, "PyTorch", "a full-stack ChatGPT-like model on one GPU node",
            "karpathy2025nanochat"),
    Project("autoresearch", 2026, 3, "Python", "an agent that runs small training experiments",
            "karpathy2026autoresearch"),
)


def project_events(projects: tuple[Project, ...] = PROJECTS) -> tuple[Event, ...]:
    """The projects as events of kind 'open-source', for drawing them on the timeline."""
    return tuple(Event(f"{p.year}-{p.month:02d}", "open-source", p.name, f"{p.name}: {p.summary}.", p.source)
                 for p in projects)


def sorted_events(events: tuple[Event, ...] | list[Event] = EVENTS) -> list[Event]:
    """The events in time order (by ``decimal_year``; ties keep their given order)."""
    return sorted(events, key=lambda e: e.decimal_year)


_BIB_KEY = re.compile(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)


def bib_keys(paths: list[Path] | tuple[Path, ...]) -> set[str]:
    """All entry keys defined in the given .bib files."""
    keys: set[str] = set()
    for path in paths:
        keys |= set(_BIB_KEY.findall(Path(path).read_text(encoding="utf-8")))
    return keys


def missing_sources(items: list | tuple, bib_paths: list[Path] | tuple[Path, ...] | None = None) -> list[str]:
    """Source keys of ``items`` (events or projects) that are empty or, given .bib files, undefined.

    Returns a sorted list of problems; an empty list means every source checks out.
    """
    problems = sorted({f"{item!r} has no source" for item in items if not item.source.strip()})
    if bib_paths is not None:
        known = bib_keys(bib_paths)
        problems += sorted({item.source for item in items if item.source and item.source not in known})
    return problems


def find_bib_files(start: Path | None = None) -> list[Path] | None:
    """The book's bibliography file (book/references.bib), found by walking up from
    ``start`` (default: the working directory); None when no enclosing folder has it, as on Colab."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        main = folder / "book" / "references.bib"
        if main.is_file():
            return [main]
    return None
