/**
 * Runs resource-agent operations in the process (and network namespace) it is started in,
 * for test/resource-agents.test.ts (the tests start it with `ip netns exec`, or as a
 * plain child to play a daemon that exits and restarts).
 *
 *   node agent-driver.js '{"spec":{…},"context":{…}}' '{"op":"start","timeoutMs":5000}' …
 *
 * A vip spec's address is its text. Each further argument is one operation, printing
 * one JSON line: the OperationResult, or {"sent":N} for {"op":"announced"}, or {} for
 * {"op":"sleep","ms":N}, or {"pid":N|null,"adopted":bool} for {"op":"pid"} (exec).
 */
import { ip } from '../../src/net/address.js';
import { ExecAgent, OcfAgent, VipAgent, createAgent, type AgentContext } from '../../src/resources/agents/index.js';
import type { ResourceSpec } from '../../src/resources/types.js';
import { errorStackText } from '../../src/base/error-text.js';

type Op = { op: string; timeoutMs?: number; ms?: number };

async function main(): Promise<void> {
  const [setupText, ...opTexts] = process.argv.slice(2);
  if (setupText === undefined) throw new Error('usage: agent-driver SETUP OP…');
  const setup = JSON.parse(setupText) as { spec: Record<string, unknown> & { type: string }; context: AgentContext };
  const spec = (setup.spec.type === 'vip' ? { ...setup.spec, address: ip(String(setup.spec['address'])) } : setup.spec) as ResourceSpec;
  const agent = createAgent(spec, setup.context);
  try {
    for (const text of opTexts) {
      const op = JSON.parse(text) as Op;
      const timeoutMs = op.timeoutMs ?? 5000;
      let out: unknown;
      switch (op.op) {
        case 'start':
          out = await agent.start(timeoutMs);
          break;
        case 'stop':
          out = await agent.stop(timeoutMs);
          break;
        case 'monitor':
          out = await agent.monitor(timeoutMs);
          break;
        case 'validate-all':
          if (!(agent instanceof OcfAgent)) throw new Error('validate-all: not an OCF agent');
          out = await agent.validateAll(timeoutMs);
          break;
        case 'announced':
          if (!(agent instanceof VipAgent)) throw new Error('announced: not a vip agent');
          out = await agent.announced();
          break;
        case 'pid':
          if (!(agent instanceof ExecAgent)) throw new Error('pid: not an exec agent');
          out = { pid: agent.pid ?? null, adopted: agent.adopted };
          break;
        case 'sleep':
          await new Promise((r) => setTimeout(r, op.ms ?? 0));
          out = {};
          break;
        default:
          throw new Error(`unknown op ${op.op}`);
      }
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
  } finally {
    agent.close?.();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${errorStackText(e)}\n`);
  process.exit(1);
});
