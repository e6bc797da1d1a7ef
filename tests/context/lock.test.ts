import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LockTimeoutError, withLock } from "../../context/lock";

describe("stack lock", () => {
  const file = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-lock-")), "dev.lock");

  it("serializes critical sections", async () => {
    const f = file();
    const order: string[] = [];
    const section = (id: string) =>
      withLock(f, async () => {
        order.push(`${id}+`);
        await new Promise((r) => setTimeout(r, 30));
        order.push(`${id}-`);
      });
    await Promise.all([section("a"), section("b"), section("c")]);
    for (let i = 0; i < order.length; i += 2)
      expect(order[i + 1]).to.equal(order[i].replace("+", "-"));
  });

  it("releases the lock when the section throws", async () => {
    const f = file();
    await withLock(f, async () => {
      throw new Error("boom");
    }).catch(() => undefined);
    expect(await withLock(f, async () => 42)).to.equal(42);
  });

  it("times out with a clear error", async () => {
    const f = file();
    let release!: () => void;
    const held = withLock(f, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    const e = await withLock(f, async () => 1, { timeoutMs: 100 }).catch((err: unknown) => err);
    expect(e).to.be.instanceOf(LockTimeoutError);
    expect((e as Error).message).to.match(
      /another fleet process has held the stack lock .* for over 0 s; try again later/,
    );
    release();
    await held;
  });
});
