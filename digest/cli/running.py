"""The commands for running unattended: doctor (is everything ready?) and schedule."""

from __future__ import annotations

import sys

import click

from .frame import NOW_OPTION, Globals, cli, echo, reports_errors


@cli.command(name="doctor")
@click.pass_obj
@reports_errors
def doctor_command(options: Globals) -> None:
    """Check that everything is ready to send: one line a check, with the fix; exit 1 on a
    failure. Config, templates, source, list, API key and scopes, sender, ASM group,
    unsubscribe endpoint."""
    from ..commands import doctor

    if not doctor.run(options.app, echo):
        sys.exit(1)


@cli.group(name="schedule", invoke_without_command=True)
@click.option("--once", is_flag=True, help="One tick: send if a run is due, then exit.")
@NOW_OPTION
@click.pass_context
@reports_errors
def schedule_group(ctx: click.Context, once: bool, now: str | None) -> None:
    """Run the weekly schedule (schedule.cron in schedule.timezone) until stopped; with
    --once, one tick of it, for cron, a systemd timer or CI.

    A due run within schedule.grace_minutes syncs the list (SendGrid), checks everything
    as `digest doctor` does and sends as `digest send --yes --edition KEY`; a run missed
    by more is reported once and sends nothing; a half-sent edition is resumed.
    """
    if ctx.invoked_subcommand is not None:
        if once or now:
            raise click.UsageError("--once and --now go with `schedule` alone, not before `next`")
        return
    if now and not once:
        raise click.UsageError("--now fixes the clock of one tick: use it with --once")
    from ..commands import schedule

    options: Globals = ctx.obj
    if once:
        schedule.once(options.app(now))
    else:
        schedule.loop(options.app())


@schedule_group.command(name="next")
@click.option(
    "--count",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many run times to print (1 to 1000).",
)
@NOW_OPTION
@click.pass_obj
@reports_errors
def schedule_next(options: Globals, count: int, now: str | None) -> None:
    """Print the next run times, one a line, ISO 8601 with the zone's offset."""
    from ..commands import schedule

    schedule.next_runs(options.app(now), count)
