"""Tests for the job status enum: which transitions apply and how a refusal reads."""

from __future__ import annotations

import pytest

from nnplay.jobs.status import IllegalTransition, JobStatus, check_transition

ACTIVE = [JobStatus.queued, JobStatus.running, JobStatus.paused]
ENDS = [JobStatus.completed, JobStatus.stopped, JobStatus.failed, JobStatus.interrupted]


def test_every_status_is_either_active_or_finished() -> None:
    for status in JobStatus:
        assert status.active != status.finished
    assert [s for s in JobStatus if s.active] == ACTIVE
    assert [s for s in JobStatus if s.finished] == ENDS


@pytest.mark.parametrize("status", list(JobStatus))
def test_staying_in_the_same_status_is_allowed(status: JobStatus) -> None:
    check_transition(status, status)


@pytest.mark.parametrize("current", ACTIVE)
@pytest.mark.parametrize("end", [JobStatus.stopped, JobStatus.failed, JobStatus.interrupted])
def test_an_active_job_can_be_stopped_fail_or_be_interrupted(
        current: JobStatus, end: JobStatus) -> None:
    check_transition(current, end)


@pytest.mark.parametrize("current", [JobStatus.running, JobStatus.paused])
def test_a_started_job_can_complete(current: JobStatus) -> None:
    check_transition(current, JobStatus.completed)


def test_a_queued_job_cannot_complete_without_running() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(JobStatus.queued, JobStatus.completed)


@pytest.mark.parametrize(("current", "wanted"), [
    (JobStatus.queued, JobStatus.running), (JobStatus.running, JobStatus.paused),
    (JobStatus.paused, JobStatus.running), (JobStatus.interrupted, JobStatus.queued),
])
def test_the_usual_life_of_a_job_is_allowed(current: JobStatus, wanted: JobStatus) -> None:
    check_transition(current, wanted)


@pytest.mark.parametrize("current", [JobStatus.completed, JobStatus.stopped, JobStatus.failed])
@pytest.mark.parametrize("wanted", ACTIVE)
def test_a_finished_job_never_trains_again(current: JobStatus, wanted: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(current, wanted)


@pytest.mark.parametrize(("current", "wanted"), [
    (JobStatus.completed, JobStatus.stopped), (JobStatus.failed, JobStatus.completed),
    (JobStatus.stopped, JobStatus.interrupted), (JobStatus.interrupted, JobStatus.running),
    (JobStatus.running, JobStatus.queued), (JobStatus.paused, JobStatus.queued),
])
def test_other_moves_are_refused(current: JobStatus, wanted: JobStatus) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, wanted)
    assert caught.value.current == current and caught.value.wanted == wanted


def test_refusal_names_the_action_and_the_current_status() -> None:
    with pytest.raises(IllegalTransition, match=r"^cannot resume: the job is completed$"):
        check_transition(JobStatus.completed, JobStatus.running, "resume")
    with pytest.raises(IllegalTransition, match=r"^cannot move to paused: the job is stopped$"):
        check_transition(JobStatus.stopped, JobStatus.paused)
