"""`creditplan risk ecl | rerate | stress | ecl-setup | train-behaviour | allowance`: expected credit loss, behaviour
re-rating and stress tests from the command line and the month-end schedule (docs/ecl.md), added to `creditplan
risk` (management/commands/risk.py).

    creditplan risk rerate --month 2025-06 [--engine spark]     re-rate every active customer (behaviour model)
    creditplan risk ecl --date 2025-06-30 [--engine spark] [--no-post]
                                                   the loss allowance of every loan; at a month end posted to the GL
    creditplan risk stress --date 2025-06-30 [--scenario CODE …]   stress tests side by side with the base
    creditplan risk allowance --date 2025-06-30     the allowance account against the loan-level figures
    creditplan risk ecl-setup                       LGD/CCF table, scenarios, standard stress scenarios (idempotent)
    creditplan risk loss-parameter --product mortgage --lgd 0.2 --ccf 1 --collateral property
    creditplan risk ecl-scenarios --scenario base:0.6:1:1 --scenario downside:0.4:1.5:1.15
    creditplan risk stress-scenario --code C --name-en … --name-zh … [--unemployment 2] [--gdp 3]
                    [--property-fall 0.3] [--pd-industry E=2.0 …]   (a refusal names the field)
    creditplan risk train-behaviour --author NAME [--approver NAME]   train and register the behaviour model

The month end: the close of the last day, `risk rerate`, `risk ecl` (which recomputes that day's indicators when
they were computed already, so that provision coverage shows the new allowance), `risk stress`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError

ACTIONS = frozenset({"ecl", "rerate", "stress", "allowance", "ecl-setup", "train-behaviour", "loss-parameter",
                     "ecl-scenarios", "stress-scenario"})


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _yuan(fen: int) -> str:
    from creditplan.core.money import format_minor

    return format_minor(int(fen), "CNY")


def add_subcommands(sub: Any) -> None:
    e = sub.add_parser("ecl", help="expected credit loss of every loan for a closed date (posted at a month end)")
    e.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
    e.add_argument("--engine", choices=("local", "spark"), default="local")
    e.add_argument("--no-post", action="store_true", help="compute and store, but post nothing to the ledger")
    e.add_argument("--post", action="store_true", help="post to the ledger even on a date that is not a month end")
    e.add_argument("--no-indicators", action="store_true",
                   help="do not recompute the date's indicators (provision coverage) afterwards")
    r = sub.add_parser("rerate", help="re-rate every active customer with the behaviour model for a month")
    r.add_argument("--month", required=True, help="YYYY-MM")
    r.add_argument("--engine", choices=("local", "spark"), default="local")
    s = sub.add_parser("stress", help="stress tests of the book of a closed date, side by side with the base")
    s.add_argument("--date", type=_date, default=None, help="the closed business date (default: the last one)")
    s.add_argument("--scenario", action="append", default=None, help="a scenario code (repeat; default: all)")
    s.add_argument("--engine", choices=("local", "spark"), default="local")
    a = sub.add_parser("allowance", help="the allowance account (1304) against the loan-level allowance")
    a.add_argument("--date", type=_date, default=None, help="the date (default: the last closed one)")
    sub.add_parser("ecl-setup", help="install the LGD/CCF table, the ECL scenarios and the standard stress scenarios")
    lp = sub.add_parser("loss-parameter", help="set a product's LGD and CCF (shares 0-1) and its collateral")
    lp.add_argument("--product", required=True, help="a product code, or * for every product without a row")
    lp.add_argument("--lgd", required=True)
    lp.add_argument("--ccf", default="1")
    lp.add_argument("--collateral", default="none")
    es = sub.add_parser("ecl-scenarios", help="replace the provision's scenarios: NAME:WEIGHT:PD_MULT:LGD_MULT …")
    es.add_argument("--scenario", action="append", required=True, help="e.g. downside:0.2:1.5:1.15 (repeat)")
    ss = sub.add_parser("stress-scenario", help="define (or replace) a stress scenario")
    ss.add_argument("--code", required=True)
    ss.add_argument("--name-en", required=True)
    ss.add_argument("--name-zh", required=True)
    ss.add_argument("--unemployment", default="0", help="percentage points up")
    ss.add_argument("--gdp", default="0", help="percentage points of GDP growth lost")
    ss.add_argument("--property-fall", default="0", help="share, 0-1")
    ss.add_argument("--lgd-multiplier", default="1", help="LGD multiplier of the loans not secured by property")
    ss.add_argument("--pd-segment", action="append", default=[], help="SEGMENT=MULTIPLIER (repeat)")
    ss.add_argument("--pd-industry", action="append", default=[], help="SECTION=MULTIPLIER (repeat)")
    t = sub.add_parser("train-behaviour", help="train the behaviour model on the Taiwan data and register it")
    t.add_argument("--author", required=True, help="the user registering it (model.manage)")
    t.add_argument("--approver", default=None, help="another user who approves it: then it becomes champion")


def run(action: str, opts: dict[str, Any], write: Any) -> None:
    """Do one of `ACTIONS` (CreditplanError passes to the caller, which prints its message)."""
    from creditplan.loans import services as loans

    day = opts.get("date") or (loans.last_closed_date() if action in ("ecl", "stress", "allowance") else None)
    if action in ("ecl", "stress", "allowance") and day is None:
        raise CommandError("no close has run yet")
    if action == "ecl" and day is not None:
        _ecl(day, opts, write)
    elif action == "rerate":
        from creditplan.risk.services import behaviour

        s = behaviour.rerate(opts["month"], engine=opts["engine"])
        write(f"{s.month:%Y-%m} (book of {s.as_of}): {s.loans} loans, {s.customers} customers re-rated with "
              f"{s.model} v{s.version}: {s.upgrades} up, {s.downgrades} down, {s.new} new; {s.seconds:.1f} s on "
              f"{s.engine}")
    elif action == "stress":
        from creditplan.risk.services import stress

        stress.install_standard(None)
        result = stress.run_stress(day, codes=opts.get("scenario"), engine=opts["engine"])
        base = result.base
        write(f"{result.as_of} base: provision {_yuan(base['provision'])}, expected loss "
              f"{_yuan(base['expected_loss'])}, NPL ratio {_pct(base['npl_ratio'])}")
        for code, f in result.stressed.items():
            cap = f["capital"]
            share = "" if cap["share_of_capital"] is None else f", {cap['share_of_capital']:.2%} of net capital"
            write(f"  {code}: provision {_yuan(f['provision'])} (+{_yuan(cap['extra_provision'])}{share}), "
                  f"expected loss {_yuan(f['expected_loss'])}, NPL ratio {_pct(f['npl_ratio'])}")
    elif action == "allowance":
        from creditplan.risk.services import ecl

        checks = ecl.reconcile_allowance(day)
        if not checks:
            write(f"{day}: no allowance posted yet")
        for c in checks:
            state = "ok" if c.difference_minor == 0 else f"DIFFERENCE {_yuan(c.difference_minor)}"
            write(f"{day} {c.branch} {c.currency}: GL {_yuan(c.gl_minor)}, loans {_yuan(c.loans_minor)} — {state}")
        if any(c.difference_minor for c in checks):
            raise CommandError("the allowance account does not equal the loan-level allowance")
    elif action == "ecl-setup":
        from creditplan.risk.services import ecl, stress

        added = ecl.install_defaults(None) + stress.install_standard(None)
        write(f"{added} parameter rows and scenarios installed")
    elif action == "loss-parameter":
        from creditplan.risk.services import ecl

        p = ecl.set_loss_parameter(None, product=opts["product"], lgd=opts["lgd"], ccf=opts["ccf"],
                                   collateral=opts["collateral"])
        write(f"{p.product}: LGD {p.lgd}, CCF {p.ccf}, collateral {p.collateral}")
    elif action == "ecl-scenarios":
        from creditplan.risk.services import ecl

        rows = []
        for text in opts["scenario"]:
            parts = text.split(":")
            if len(parts) != 4:
                raise CommandError(f"a scenario is NAME:WEIGHT:PD_MULTIPLIER:LGD_MULTIPLIER, not {text!r}")
            rows.append(dict(zip(("name", "weight", "pd_multiplier", "lgd_multiplier"), parts, strict=True)))
        for sc in ecl.set_scenarios(None, rows):
            write(f"{sc.name}: weight {sc.weight:g}, PD × {sc.pd_multiplier:g}, LGD × {sc.lgd_multiplier:g}")
    elif action == "stress-scenario":
        from creditplan.risk.services import stress

        def pairs(values: list[str], name: str) -> dict[str, str]:
            out = {}
            for v in values:
                key, sep, number = v.partition("=")
                if not sep:
                    raise CommandError(f"--{name} takes KEY=MULTIPLIER, not {v!r}")
                out[key.strip()] = number.strip()
            return out

        view = stress.define_scenario(None, {
            "code": opts["code"], "name_en": opts["name_en"], "name_zh": opts["name_zh"],
            "unemployment_pp": opts["unemployment"], "gdp_pp": opts["gdp"], "property_fall": opts["property_fall"],
            "lgd_multiplier": opts["lgd_multiplier"], "pd_segment": pairs(opts["pd_segment"], "pd-segment"),
            "pd_industry": pairs(opts["pd_industry"], "pd-industry")})
        write(f"stress scenario {view.code} defined")
    elif action == "train-behaviour":
        from creditplan.org.models import User
        from creditplan.risk.services import behaviour

        users = {}
        for role in ("author", "approver"):
            name = opts.get(role)
            if name:
                users[role] = User.objects.filter(username=name).first()
                if users[role] is None:
                    raise CommandError(f"no user {name!r}")
        v = behaviour.train_behaviour_model(users["author"], users.get("approver"))
        write(f"{v.model} v{v.number} registered ({v.status}); hold-out AUC "
              f"{(v.metrics.get('holdout') or {}).get('auc', '–')}")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _ecl(day: dt.date, opts: dict[str, Any], write: Any) -> None:
    from creditplan.risk.models import Run
    from creditplan.risk.services import ecl, run

    ecl.install_defaults(None)
    post = False if opts.get("no_post") else (True if opts.get("post") else None)
    s = ecl.run_ecl(day, engine=opts["engine"], post=post)
    write(f"{s.as_of}: {s.loans} loans — stage 1/2/3: {'/'.join(str(n) for n in s.stage_loans)} loans, allowance "
          f"{' / '.join(_yuan(v) for v in s.stage_ecl)}; total {_yuan(s.total_minor)} on exposure "
          f"{_yuan(s.ead_minor)}; {s.seconds:.1f} s on {s.engine}")
    write(f"  PD from: {', '.join(f'{k} {v}' for k, v in s.pd_sources.items())}; transition matrix over "
          f"{s.matrix_months} months")
    for p in s.posted:
        write(f"  posted {p['kind']} {p['branch']} {_yuan(p['amount_minor'])}")
    if s.posted or post:
        write(f"  allowance account {'reconciles' if s.reconciled else 'DOES NOT reconcile'} with the loans")
    if not opts.get("no_indicators") and Run.objects.filter(as_of=day).exists():
        summary = run.run_indicators(day)
        write(f"  indicators of {day} recomputed with the allowance: {summary.values} values")
