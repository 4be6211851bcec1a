// Gateway vs ledger by day, one small SVG chart per currency (never added across
// currencies). Bars are placed by chart.ts; every label and tooltip is the exact amount
// from money.ts. Days where the two sides differ are marked, and listed in a table below
// for keyboard and screen-reader users.
import { useEffect, useState } from "react";
import type { CurrencySeries, DailyTotals } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmount } from "../money";
import { layoutBars } from "../chart";

const HEIGHT = 120;
const BAR = 7;
const GAP = 6;

function SeriesChart({ series }: { series: CurrencySeries }) {
  const { baseline, bars } = layoutBars(series.days, HEIGHT);
  const width = bars.length * (2 * BAR + GAP) + GAP;
  const differing = series.days.filter((d) => d.gateway.minor !== d.ledger.minor);
  const title = `Gateway vs ledger by day, ${series.currency}`;
  return (
    <figure className="chart" data-currency={series.currency}>
      <figcaption>{series.currency}</figcaption>
      <svg width={width} height={HEIGHT + 18} role="img" aria-label={title}>
        <line x1={0} x2={width} y1={baseline} y2={baseline} className="axis" />
        {bars.map((b, i) => {
          const x = GAP + i * (2 * BAR + GAP);
          const d = series.days[i];
          return (
            <g key={b.day} data-day={b.day}>
              {b.differs && <rect x={x - 2} y={0} width={2 * BAR + 4} height={HEIGHT} className="differs" />}
              <rect x={x} y={b.gateway.y} width={BAR} height={b.gateway.height} className="bar gateway">
                <title>{`${b.day} gateway ${formatAmount(d.gateway)}`}</title>
              </rect>
              <rect x={x + BAR} y={b.ledger.y} width={BAR} height={b.ledger.height} className="bar ledger">
                <title>{`${b.day} ledger ${formatAmount(d.ledger)}`}</title>
              </rect>
              {(i === 0 || i === bars.length - 1) && (
                <text
                  x={i === 0 ? x : x + 2 * BAR}
                  y={HEIGHT + 14}
                  className="tick"
                  textAnchor={i === 0 ? "start" : "end"}
                >
                  {b.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      {differing.length > 0 && (
        <table className="grid compact" aria-label={`Days where gateway and ledger differ, ${series.currency}`}>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Gateway</th>
              <th scope="col">Ledger</th>
            </tr>
          </thead>
          <tbody>
            {differing.map((d) => (
              <tr key={d.day}>
                <td>{d.day}</td>
                <td className="num">{formatAmount(d.gateway)}</td>
                <td className="num">{formatAmount(d.ledger)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </figure>
  );
}

export function DailyChart(props: { version: number }) {
  const [totals, setTotals] = useState<DailyTotals | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call("daily_totals", { days: 31 })
      .then((t) => {
        setTotals(t);
        setError(null);
      })
      .catch((e) => setError(e instanceof CommandError ? e.message : String(e)));
  }, [props.version]);

  return (
    <section aria-labelledby="chart-title" className="panel daily">
      <h3 id="chart-title">Gateway vs ledger by day</h3>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {totals && totals.series.length === 0 && <p>No money in the store yet: import or sync first.</p>}
      {totals && totals.series.length > 0 && (
        <>
          <p className="hint">
            {totals.first} – {totals.last}, days in {totals.zone}.{" "}
            <span className="legend gateway">■</span> gateway (charges less refunds){" "}
            <span className="legend ledger">■</span> ledger (payments less refunds); shaded days differ.
          </p>
          <div className="charts">
            {totals.series.map((s) => (
              <SeriesChart key={s.currency} series={s} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
