"""The loan contract as a PDF (fpdf2, A4 portrait), from the agreed terms as data (see contracts.contract_terms).

The template is code: every clause is a fixed text with the terms filled in, so the same terms always give the
same wording; its identifier (`TEMPLATE`) is stored with the terms. Latin text is set in Helvetica (searchable
as plain text), Chinese in the CJK font found by core.pdf.cjk_font (fonts-noto-cjk); without one the
English text alone is printed.
"""

from __future__ import annotations

from typing import Any, Literal

from creditplan.core.money import format_minor
from creditplan.core.pdf import PdfDocument, cjk_font

TEMPLATE = "personal-loan-contract/1"

METHODS = {"equal-installment": ("equal installments of principal and interest", "等额本息"),
           "equal-principal": ("equal principal with interest on the balance", "等额本金"),
           "interest-only": ("interest each period, principal at maturity", "先息后本"),
           "bullet": ("principal and interest at maturity", "到期一次还本付息")}


RULES = {
    "running-total": "exact schedule, fen carried to the next period",
    "per-line": "each period on the principal outstanding",
}


class _Doc(PdfDocument):
    """The contract: A4 portrait (see core.pdf.PdfDocument for the fonts)."""

    def __init__(self, title: str) -> None:
        super().__init__(title, orientation="P", margin=15, font=cjk_font())

    def line(self, text: str, *, size: float = 9, bold: bool = False, h: float = 5) -> None:
        text = self.font(text, size, bold)
        self.pdf.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT")

    def zh(self, text: str, *, size: float = 9, h: float = 5) -> None:
        if self.cjk:
            self.line(text, size=size, h=h)

    def heading(self, en: str, zh: str) -> None:
        self.pdf.ln(2)
        self.line(en, size=11, bold=True, h=6)
        self.zh(zh, size=10, h=6)

    def cell(self, w: float, text: str, *, size: float = 8, bold: bool = False, align: str = "L",
             border: Literal[0, 1] | str = 0, h: float = 5) -> None:
        self.pdf.cell(w, h, self.font(text, size, bold), border=border, align=align)


def contract_pdf(t: dict[str, Any]) -> bytes:
    """The contract for the terms `t` (amounts in fen, dates as ISO text)."""
    cur = t["currency"]

    def money(minor: int) -> str:  # "12,345.67" in the contract's currency (core.money.format_minor)
        return format_minor(int(minor), cur)

    doc = _Doc(f"Loan contract {t['application']}")
    pdf = doc.pdf
    doc.line("Personal Loan Contract", size=16, bold=True, h=8)
    doc.zh("个人借款合同", size=14, h=8)
    doc.line(f"Contract no. {t['application']}    Template {TEMPLATE}    Prepared on {t['prepared_on']}", size=8)

    doc.heading("1. Parties", "一、合同当事人")
    doc.line(f"Lender: {t['lender']}, branch {t['branch_code']}")
    doc.zh(f"贷款人：{t['lender']}（{t['branch_name']}）")
    doc.line(f"Borrower: {t['borrower']} (ID ending {t['borrower_id_last4'] or '-'}), customer no. {t['customer_id']}")
    doc.zh(f"借款人：{t['borrower']}（证件号码尾号 {t['borrower_id_last4'] or '-'}）")

    doc.heading("2. The loan", "二、借款金额、期限与用途")
    method_en, method_zh = METHODS.get(t["method"], (t["method"], t["method"]))
    rows = [
        ("Product", "产品", f"{t['product_name']} ({t['product_code']})"),
        ("Amount", "借款金额", f"{cur} {money(t['amount_minor'])}"),
        ("Term", "期限", f"{t['term']} periods of {t['months_per_period']} month(s)"),
        ("Purpose", "用途", str(t.get("purpose") or "-")),
        ("Annual interest rate", "年利率", f"{t['rate']} %"),
        ("APR", "年化利率 (APR)", f"{t['apr']} %" if t.get("apr") else "-"),
        ("Day count", "计息基础", t["day_count"]),
        ("Interest rounding", "利息舍入", RULES.get(t.get("interest_rule", "per-line"), t.get("interest_rule", ""))),
        ("Repayment method", "还款方式", f"{method_en}" + (f" / {method_zh}" if doc.cjk else "")),
        ("Value date (assumed)", "起息日（预计）", t["start"]),
        ("First due date", "首期还款日", t["first_due"]),
        ("Maturity", "到期日", t["maturity"]),
        ("Upfront fee", "手续费", f"{cur} {money(t['upfront_fee_minor'])}"),
        ("Total interest", "利息合计", f"{cur} {money(t['total_interest_minor'])}"),
        ("Total to repay", "还款总额", f"{cur} {money(t['total_payment_minor'])}"),
    ]
    for en, zh, value in rows:
        doc.cell(45, en, bold=True)
        doc.cell(40, zh if doc.cjk else "")
        doc.cell(0, value)
        pdf.ln(5)
    doc.line("The loan is paid into the borrower's account on the value date. If it is paid out on a later day, "
             "the due dates move with it by the same number of months; the amounts are those of the schedule.",
             size=8, h=4)

    doc.heading("3. Repayment schedule", "三、还款计划")
    cols = (("#", 10), ("Due date", 28), ("Principal", 32), ("Interest", 30), ("Fee", 22), ("Installment", 32),
            ("Balance after", 26))

    def header() -> None:
        for name, w in cols:
            doc.cell(w, name, bold=True, border="B", align="L" if name in ("#", "Due date") else "R")
        pdf.ln(5)

    header()
    for seq, due, principal, interest, fee, payment, balance in t["installments"]:
        if pdf.will_page_break(5):
            pdf.add_page()
            header()
        for (name, w), text in zip(cols, (str(seq), due, money(principal), money(interest), money(fee),
                                          money(payment), money(balance)), strict=True):
            doc.cell(w, text, size=8, align="L" if name in ("#", "Due date") else "R")
        pdf.ln(5)

    doc.heading("4. Late payment", "四、逾期责任")
    doc.line(f"An installment not paid in full within {t['grace_days']} day(s) after its due date bears penalty "
             f"interest on the overdue principal at the contract rate plus {t['penalty_markup_pct']} % of it, from the "
             f"due date until paid" + (f", and a late fee of {cur} {money(t['late_fee_minor'])} per installment in "
                                       f"arrears" if t["late_fee_minor"] else "") +
             ". Payments are applied to penalty, fees, interest and principal, oldest first.")
    doc.zh(f"借款人未按期足额还款且超过宽限期 {t['grace_days']} 天的，对逾期本金自应还款日起按合同利率上浮 "
           f"{t['penalty_markup_pct']}% 计收罚息" + (f"，并按期收取逾期费 {money(t['late_fee_minor'])} 元" if
                                                     t["late_fee_minor"] else "") + "。")

    doc.heading("5. Electronic signature", "五、电子签名")
    doc.line("The borrower signs this contract online after confirming their identity (password, and the last four "
             "characters of their ID number). The SHA-256 digest of this file is recorded with the signature, the "
             "time, the IP address and the device, and in the bank's tamper-evident ledger.")
    doc.zh("借款人在线核验身份（登录密码及证件号码后四位）后点击签署。本文件的 SHA-256 摘要与签署时间、IP 地址和设备"
           "一并记录，并写入防篡改账本。")
    return bytes(pdf.output())
