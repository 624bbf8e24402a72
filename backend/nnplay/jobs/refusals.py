"""Why the job manager refuses a request: an unknown job, too many jobs, a store that
cannot write. The API layer maps each to its HTTP status."""

from __future__ import annotations


class UnknownJob(KeyError):
    """No job has that id."""

    def __str__(self) -> str:
        return f"no job with id {self.args[0]!r}; list jobs with GET /api/jobs"


class TooManyJobs(Exception):
    """The server holds as many active jobs as it allows."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"the server is running its limit of {limit} active jobs; stop or delete one, "
            f"or try again in {retry_after} s"
        )


class TooManyJobsPerUser(TooManyJobs):
    """One identity holds as many active jobs as each may."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        Exception.__init__(
            self, f"you already have {limit} active jobs (queued, running or paused), the most "
            f"each person may have; stop or delete one, or try again in {retry_after} s")


class StoreUnavailable(Exception):
    """Runs cannot be saved right now (e.g. the disk is full): new jobs are refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot start a job: {reason}")


__all__ = ["StoreUnavailable", "TooManyJobs", "TooManyJobsPerUser", "UnknownJob"]
