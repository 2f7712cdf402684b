"""The default run's prompts carry checks, so the first recommendation a new user sees weighs what each
model answered: an echo of the prompt fails, a plain good answer passes (issue 15, "Reports")."""

from __future__ import annotations

import pytest

from bakeoff.config.settings import SESSION_PROMPTS, session_prompts
from bakeoff.quality.checks import run_checks

GOOD = {
    "p1": "Retrieval augmented generation first retrieves documents relevant to the question from an index. "
    "The model then generates its answer grounded in those retrieved passages.",
    "p2": "1. Your data stays on the device and is never sent to a cloud server.\n"
    "2. No third party can log or train on your prompts.\n3. It works offline, so nothing is exposed.",
    "p3": "Bigger models have more parameters, so each token needs more memory bandwidth and compute; "
    "consumer hardware has little of both, so every token takes longer and latency grows.",
    "p4": "First, an offline field app on a phone where there is no network. Second, a privacy-sensitive "
    "assistant on a laptop where cost and latency must stay low.",
}


def test_the_default_prompts_are_the_sessions_with_checks() -> None:
    cases = session_prompts()
    assert [c.prompt for c in cases] == SESSION_PROMPTS
    assert all(len(c.checks) >= 3 for c in cases)


@pytest.mark.parametrize("case", session_prompts(), ids=lambda c: c.id)
def test_a_good_answer_passes_every_check(case) -> None:
    failed = [(r.check, r.reason) for r in run_checks(case, GOOD[case.id]) if not r.passed]
    assert failed == []


@pytest.mark.parametrize("case", session_prompts(), ids=lambda c: c.id)
def test_an_echo_of_the_prompt_fails(case) -> None:
    # what a base model does: repeat the prompt and ramble on
    echo = f"{case.prompt}\n{case.prompt}\nThe following is a list of questions and answers."
    results = {r.check: r.passed for r in run_checks(case, echo)}
    assert results["answers, not an echo of the prompt"] is False


@pytest.mark.parametrize("case", session_prompts(), ids=lambda c: c.id)
def test_an_empty_answer_fails(case) -> None:
    assert not all(r.passed for r in run_checks(case, ""))
