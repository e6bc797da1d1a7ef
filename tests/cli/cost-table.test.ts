import { expect } from "chai";
import { costTable } from "../../cli/fleet";
import { fleetCost, parsePriceTable } from "../../config/prices";

/** `fleet cost`'s table: its columns line up whatever the lengths of names, regions and prices. */
describe("fleet cost table", () => {
  const book = {
    aws: parsePriceTable(
      "aws",
      'currency: USD\nunit: hour\nsources: [{ id: s, url: "https://example.com/p", read: "2026-11-26" }]\nsizes:\n  t3.micro: { source: s, regions: { us-east-1: 0.0104 } }\n  t3.xlarge: { source: s, regions: { us-east-1: 0.1664 } }\n',
      "aws.yaml",
    ),
    hetzner: parsePriceTable(
      "hetzner",
      'currency: EUR\nunit: hour\nsources: [{ id: s, url: "https://example.com/h", read: "2026-11-27" }]\nsizes:\n  cx23: { source: s, regions: { fsn1: 0.006 } }\n',
      "hetzner.yaml",
    ),
  };

  it("aligns every column, right-aligns prices, and shows each price's currency", async () => {
    const cost = fleetCost(
      [
        { name: "a", cloud: "aws", region: "us-east-1", size: "t3.micro" },
        { name: "a-much-longer-worker-name", cloud: "aws", region: "us-east-1", size: "t3.xlarge" },
        { name: "eu", cloud: "hetzner", region: "fsn1", size: "cx23" },
        { name: "gone", cloud: "hetzner", region: "ash", size: "cx23" },
      ],
      book,
    );
    const lines = (await costTable(cost)).split("\n");
    // Same width on every line, and the column borders at the same offsets on every line.
    expect(new Set(lines.map((l) => l.length)).size).to.equal(1);
    const borders = (l: string) =>
      [...l].flatMap((ch, i) => ("│┌┐└┘┬┴├┤┼".includes(ch) ? [i] : []));
    const first = JSON.stringify(borders(lines[0]));
    for (const l of lines) expect(JSON.stringify(borders(l)), l).to.equal(first);
    const row = (name: string) => lines.find((l) => l.includes(` ${name} `)) ?? "";
    expect(lines[1]).to.match(/NAME .*PER HOUR .*PER 30 DAYS .*CURRENCY/);
    expect(row("a")).to.match(/│ +\$0\.0104 │ +\$7\.49 │ USD/);
    expect(row("eu")).to.match(/│ +€0\.0060 │ +€4\.32 │ EUR/);
    expect(row("gone")).to.match(/│ +unknown │ +unknown │ -/);
    // Prices are right-aligned: the cells end at the same column.
    const end = (l: string) => l.indexOf(" │", l.indexOf("0."));
    expect(end(row("a"))).to.equal(end(row("a-much-longer-worker-name")));
  });

  it("says so when there are no workers", async () => {
    expect(await costTable(fleetCost([], book))).to.equal("no workers");
  });
});
