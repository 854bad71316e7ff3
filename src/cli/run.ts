/**
 * `vigil run [-c PATH] [--runtime-dir DIR]`: the daemon, in the foreground (systemd's
 * Type=notify). One log line per event on stdout.
 *
 * Signals: SIGHUP reloads (a config that fails validation is refused and the running
 * one stays; what a reload does per section: docs/config.md, "Reload"); SIGTERM and
 * SIGINT stop: masters send priority 0 and remove their VIPs, then the process exits 0.
 *
 * systemd (sd_notify(3)): READY=1 with STATUS= once the instances run, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1, and WATCHDOG=1 every half WATCHDOG_USEC.
 */
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatIssue } from '../config/issues.js';
import { configLoadersExited, loadConfigIsolated as loadConfig } from '../config/load-isolated.js';
import type { VigilConfig } from '../config/types.js';
import { ControlServer, type ControlRequest, type ControlResponse, type ControlStream } from '../daemon/control.js';
import { errorText } from '../base/error-text.js';
import { Daemon } from '../daemon/daemon.js';
import { DaemonLog, lineSink, type Logger } from '../daemon/logger.js';
import { BoundedWriter, JournalSink, stdoutIsJournal, type SinkStats } from '../daemon/log-sink.js';
import type { Scheduler } from '../daemon/scheduler.js';
import { createScheduler } from '../daemon/timerfd-scheduler.js';
import { sdNotify, watchdogInterval } from '../daemon/sd-notify.js';
import { SystemNetwork, SystemSockets } from '../daemon/system.js';
import { NftProgram } from '../daemon/accept-filter.js';
import { native } from '../native/index.js';
import type { QuorumService } from '../daemon/quorum-service.js';
import type { CorosyncQuorum } from '../daemon/corosync-quorum.js';
import { masterDownIntervalMs } from '../vrrp/timers.js';
import { PROMOTION_ROLES, PromotionControl, loadRoles, rolesFile, saveRoles, type PromotionRole } from '../daemon/promotion.js';
import { ResourceService } from '../daemon/resource-service.js';
import { reloadSections, type ReloadParts } from '../daemon/reload-sections.js';
import { monotonicMs } from '../daemon/clock.js';
import { dropRunEnvironment, importEagerly } from '../daemon/node-flags.js';
import { Notifiers } from '../notify/notifiers.js';
import type { EventStream } from '../events/stream.js';
import { startMonitors, type Monitors } from '../monitor/index.js';
import type { CliCommand, CliIo } from './main.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const HELP = `Usage: vigil run [-c|--config PATH] [--runtime-dir DIR] [--log-format text|json]

Runs the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config.

  -c, --config PATH     the config file (default ${DEFAULT_CONFIG_PATH})
      --runtime-dir DIR where the control socket lives (overrides global.runtime_dir)
      --log-format FMT  text or json (overrides global.log_format)
  -h, --help            show this help
`;

interface RunOptions {
  readonly configPath: string;
  readonly runtimeDir: string | undefined;
  readonly logFormat: 'text' | 'json' | undefined;
}

/** The config with the command line's overrides. */
function withOverrides(config: VigilConfig, options: RunOptions): VigilConfig {
  return {
    ...config,
    global: {
      ...config.global,
      ...(options.runtimeDir === undefined ? {} : { runtimeDir: options.runtimeDir }),
      ...(options.logFormat === undefined ? {} : { logFormat: options.logFormat }),
    },
  };
}

/** Tells systemd, when it listens; a failure to tell it is logged, never fatal. */
function notify(log: Logger, state: Record<string, string>): void {
  try {
    sdNotify(state);
  } catch (e) {
    log.log('warn', 'sd-notify-failed', { detail: errorText(e) });
  }
}

function statusLine(daemon: Daemon): string {
  const s = daemon.status();
  const masters = s.instances.filter((i) => i.state === 'master').length;
  const faults = s.instances.filter((i) => i.state === 'fault').length;
  return `${s.instances.length} instances: ${masters} master, ${s.instances.length - masters - faults} backup/init, ${faults} fault`;
}

/**
 * keepalived's vrrp_rt_priority: adverts on time even when the CPUs are busy. Every thread
 * of the process gets SCHED_RR (threads started later inherit it), not the main thread
 * alone: the main thread waits on V8's helper threads (garbage collection), and helpers
 * left at normal priority behind CPU hogs would stall it (priority inversion). No
 * mlockall: V8 reserves and re-protects memory as it runs, and locked future mappings
 * make those calls fail.
 */
function applyScheduling(config: VigilConfig, log: Logger): void {
  const priority = config.global.realtimePriority;
  if (priority <= 0) return;
  const threads = readdirSync('/proc/self/task').map(Number);
  try {
    for (const tid of threads) native().setRealtime(priority, tid);
    log.log('info', 'realtime-scheduling', { policy: 'SCHED_RR', priority, threads: threads.length });
  } catch (e) {
    log.log('warn', 'realtime-scheduling-failed', { priority, detail: errorText(e) });
  }
}

/**
 * Gives malloc's free memory back to the kernel once the config loader's worker has
 * exited: its isolate, the startup's compilation (V8 compiles in malloc'd zones) and the
 * helper threads' arenas leave free pages that glibc keeps (free() returns only the top
 * of the main heap). Measured at 1 instance, 100 ms adverts: malloc's pages 8.3 → 5.6 MiB.
 */
function trimMallocAfterLoad(log: Logger): void {
  void configLoadersExited().then(() => {
    try {
      log.log('debug', 'malloc-trimmed', { released: native().mallocTrim() });
    } catch (e) {
      log.log('warn', 'malloc-trim-failed', { detail: errorText(e) });
    }
  });
}

/**
 * The quorum service of `config.quorum`: its modules loaded (only a config with a quorum
 * section loads them; a reload cannot add the section, quorum-reload.ts), the local node
 * found, the key read, the socket open. Also what a reload needs of the loaded modules.
 */
async function openQuorum(
  config: VigilConfig,
  scheduler: Scheduler,
  log: Logger,
  onVerdict: (verdict: 'hold' | 'keep' | 'release', why: string) => void,
  events: EventStream,
): Promise<{ readonly quorum: QuorumService | CorosyncQuorum; readonly parts: Pick<ReloadParts, 'readKey' | 'localNode'> } | undefined> {
  const q = config.quorum;
  if (!q) return undefined;
  const [{ QuorumService, findLocalNode }, { readKeyFile }] = await importEagerly(() => Promise.all([import('../daemon/quorum-service.js'), import('../quorum/io/authkey.js')]));
  const parts = { readKey: readKeyFile, localNode: findLocalNode };
  if (q.provider === 'corosync') {
    const { CorosyncQuorum } = await importEagerly(() => import('../daemon/corosync-quorum.js'));
    const shortest = Math.min(...config.instances.map((i) => masterDownIntervalMs(i.version, i.priority, i.advertInterval)));
    return { quorum: await CorosyncQuorum.open(q, scheduler, monotonicMs, log, onVerdict, Number.isFinite(shortest) ? shortest : undefined, events), parts };
  }
  const localId = findLocalNode(q);
  if (localId === undefined) {
    throw new Error(
      `${q.location.file}:${q.location.line}:${q.location.column}: quorum: none of the nodes' addresses (${q.nodes.map((n) => n.address.text).join(', ')}) is on this machine; set quorum.node_id`,
    );
  }
  const key = await readKeyFile(q.keyFile);
  return { quorum: await QuorumService.open(q, localId, key, scheduler, monotonicMs, log, onVerdict, events, config.global.stateDir), parts };
}

/** Without a quorum section, reloadSections never reads a key or looks for the local node. */
const NO_QUORUM_PARTS: Pick<ReloadParts, 'readKey' | 'localNode'> = {
  readKey: (file) => Promise.reject(new Error(`quorum key ${file}: this daemon runs without quorum`)),
  localNode: () => undefined,
};

export async function runDaemon(options: RunOptions, io: CliIo): Promise<number> {
  // The launcher's MALLOC_ARENA_MAX was for this process's malloc (read at its start);
  // what vigil starts (resources, scripts) gets the environment vigil was given.
  dropRunEnvironment(process.env);
  const loaded = await loadConfig(options.configPath);
  if (!loaded.ok) {
    for (const issue of loaded.errors) io.stderr(`${formatIssue(issue)}\n`);
    io.stderr(`vigil run: ${options.configPath} is not valid; not started\n`);
    return EXIT_FAILED;
  }
  let config = withOverrides(loaded.config, options);
  // stdout through a bounded buffer, or the journal's native protocol under systemd.
  const journal = io.stdoutStream && stdoutIsJournal() ? JournalSink.open() : undefined;
  const bounded = journal || !io.stdoutStream ? undefined : new BoundedWriter(io.stdoutStream, config.global.logFormat);
  const log = new DaemonLog(journal ?? bounded ?? lineSink(config.global.logFormat, (line) => io.stdout(line)));
  const logStatus = (): SinkStats & { readonly suppressed: number } => ({
    ...(journal?.stats() ?? bounded?.stats() ?? { target: 'stdout', dropped: 0, droppedPriority: 0, queuedBytes: 0 }),
    ...log.stats(),
  });
  for (const w of loaded.warnings) log.log('warn', 'config-warning', { detail: formatIssue(w) });
  applyScheduling(config, log);

  let network: SystemNetwork;
  try {
    network = SystemNetwork.open();
  } catch (e) {
    io.stderr(`vigil run: cannot open rtnetlink: ${errorText(e)}\n`);
    return EXIT_FAILED;
  }
  // Protocol deadlines on a timerfd (µs-precise), or setTimeout where timerfd is unavailable.
  const { scheduler, why } = createScheduler();
  if (why !== undefined) log.log('warn', 'timerfd-unavailable', { detail: `${why}; using setTimeout (about 1 ms late)` });
  // nftables only for accept: false (RFC 5798 Accept_Mode), through the nft program.
  const daemon = new Daemon(config, network, new SystemSockets(), scheduler, log, new NftProgram());
  let quorum: QuorumService | CorosyncQuorum | undefined;
  let quorumParts = NO_QUORUM_PARTS;
  // One event stream: the daemon's; the services emit on it and its log subscriber logs them.
  const resources = await ResourceService.open(config, daemon.vrrpView, scheduler, monotonicMs, log, daemon.events);
  daemon.attachResources(resources);
  const promotion = new PromotionControl({
    isMaster: daemon.vrrpView.isMaster,
    setTracker: daemon.vrrpView.setTracker,
    log: (level, event, fields) => log.log(level, event, fields),
    save: (roles) => saveRoles(rolesFile(config.global.runtimeDir), roles),
  }, config.instances);
  // Pacemaker's roles of a previous run of this daemon: back before any instance starts.
  try {
    promotion.restore(loadRoles(rolesFile(config.global.runtimeDir)));
  } catch (e) {
    io.stderr(`vigil run: ${errorText(e)}\n`);
    await daemon.stop().catch(() => undefined);
    return EXIT_FAILED;
  }
  daemon.attachPromotion(promotion);
  // Notify scripts, FIFO and alert agents: subscribed before the start, so they see it.
  let notifiers: Notifiers;
  try {
    notifiers = Notifiers.start(config, daemon.events, log);
  } catch (e) {
    io.stderr(`vigil run: ${errorText(e)}\n`);
    await daemon.stop().catch(() => undefined);
    return EXIT_FAILED;
  }
  try {
    const opened = await openQuorum(config, scheduler, log, (verdict, why) => daemon.onQuorumVerdict(verdict, why), daemon.events);
    if (opened) {
      quorum = opened.quorum;
      quorumParts = opened.parts;
      daemon.attachQuorum(opened.quorum);
    }
    await daemon.start();
    resources.start();
  } catch (e) {
    io.stderr(`vigil run: ${errorText(e)}\n`);
    await daemon.stop().catch(() => undefined);
    await resources.stop().catch(() => undefined);
    await quorum?.close();
    await notifiers.stop().catch(() => undefined);
    return EXIT_FAILED;
  }

  let reloading: Promise<void> | undefined;
  let monitors: Monitors | undefined;
  const reload = async (): Promise<{ ok: boolean; errors: string[] }> => {
    const next = await loadConfig(options.configPath);
    if (!next.ok) {
      const errors = next.errors.map(formatIssue);
      for (const e of errors) log.log('error', 'reload-refused', { detail: e });
      return { ok: false, errors };
    }
    notify(log, { RELOADING: '1', MONOTONIC_USEC: String(Math.round(Number(process.hrtime.bigint()) / 1000)) });
    try {
      const candidate = await reloadSections(
        { daemon, resources, quorum, promotion, ...quorumParts },
        config,
        withOverrides(next.config, options),
      );
      await notifiers.reload(candidate).catch((e: unknown) => log.log('error', 'reload-notifiers-failed', { detail: errorText(e) }));
      config = candidate;
      await monitors?.reload(candidate.notifiers);
      return { ok: true, errors: [] };
    } catch (e) {
      log.log('error', 'reload-failed', { detail: errorText(e) });
      return { ok: false, errors: [errorText(e)] };
    } finally {
      notify(log, { READY: '1', STATUS: statusLine(daemon) });
      trimMallocAfterLoad(log);
    }
  };
  const serialReload = (): Promise<{ ok: boolean; errors: string[] }> => {
    const run = (reloading ?? Promise.resolve()).then(reload);
    reloading = run.then(() => undefined);
    return run;
  };

  // D-Bus, SNMP and Prometheus (src/monitor): they read the daemon through this host only.
  monitors = await startMonitors(
    config.notifiers,
    {
      status: () => daemon.status(),
      events: daemon.events,
      config: () => config,
      reload: async () => {
        const r = await serialReload();
        if (!r.ok) throw new Error(r.errors.join('; '));
      },
      sendGarp: (name) => daemon.sendGarp(name),
      notifierStats: () => notifiers.stats(),
    },
    log,
  );

  const handler = async (request: ControlRequest): Promise<ControlResponse | ControlStream> => {
    switch (request.command) {
      case 'status':
        return { ok: true, result: { ...daemon.status(), notifiers: notifiers.status(), promotion: promotion.all(), log: logStatus(), control: control.stats() } };
      case 'events': {
        const since = request.args?.['since'];
        const initial = daemon.events.since(typeof since === 'number' ? since : 0);
        return {
          stream: true,
          header: { lastSeq: daemon.events.lastSeq },
          initial,
          ...(request.args?.['follow'] === true ? { follow: (push: (item: unknown) => void) => daemon.events.subscribe(push) } : {}),
        };
      }
      case 'instance-role': {
        const instance = request.args?.['instance'];
        const role = request.args?.['role'];
        if (typeof instance !== 'string' || !PROMOTION_ROLES.some((r) => r === role)) {
          return { ok: false, error: `instance-role needs args.instance and args.role (${PROMOTION_ROLES.join(', ')})` };
        }
        try {
          promotion.set(instance, role as PromotionRole);
        } catch (e) {
          return { ok: false, error: errorText(e) };
        }
        return { ok: true, result: { instance, role: promotion.role(instance) } };
      }
      case 'resource-status':
        return { ok: true, result: resources.status() };
      case 'resource-command': {
        const command = request.args?.['command'];
        const name = request.args?.['resource'];
        if ((command !== 'start' && command !== 'stop' && command !== 'restart' && command !== 'cleanup') || typeof name !== 'string') {
          return { ok: false, error: 'resource-command needs args.command (start, stop, restart or cleanup) and args.resource' };
        }
        resources.command(command, name);
        return { ok: true, result: resources.status() };
      }
      case 'node-standby': {
        const on = request.args?.['on'];
        if (typeof on !== 'boolean') return { ok: false, error: 'node-standby needs args.on, true or false' };
        resources.setStandby(on);
        return { ok: true, result: resources.status() };
      }
      case 'maintenance': {
        const on = request.args?.['on'];
        if (typeof on !== 'boolean') return { ok: false, error: 'maintenance needs args.on, true or false' };
        resources.setMaintenance(on);
        return { ok: true, result: resources.status() };
      }
      case 'quorum-status':
        return quorum ? { ok: true, result: quorum.status() } : { ok: false, error: 'this daemon has no quorum section in its config' };
      case 'quorum-unblock': {
        if (!quorum) return { ok: false, error: 'this daemon has no quorum section in its config' };
        const refused = quorum.unblock().find((c) => c.type === 'refused');
        return refused && refused.type === 'refused' ? { ok: false, error: refused.detail } : { ok: true, result: quorum.status() };
      }
      case 'quorum-expected': {
        if (!quorum) return { ok: false, error: 'this daemon has no quorum section in its config' };
        const votes = request.args?.['votes'];
        if (typeof votes !== 'number') return { ok: false, error: 'quorum-expected needs args.votes, a number' };
        const refused = quorum.setExpected(votes).find((c) => c.type === 'refused');
        return refused && refused.type === 'refused' ? { ok: false, error: refused.detail } : { ok: true, result: quorum.status() };
      }
      case 'reload': {
        const r = await serialReload();
        return r.ok ? { ok: true, result: { reloaded: true } } : { ok: false, error: r.errors.join('\n') };
      }
      default:
        return { ok: false, error: `unknown command "${request.command}"` };
    }
  };
  let control: ControlServer;
  try {
    control = await ControlServer.listen(config.global.runtimeDir, handler, {
      onReject: (reason, detail) => log.log('warn', 'control-request-rejected', { reason, detail }),
    });
  } catch (e) {
    io.stderr(`vigil run: control socket in ${config.global.runtimeDir}: ${errorText(e)}\n`);
    await daemon.stop();
    await monitors.stop();
    await notifiers.stop();
    return EXIT_FAILED;
  }
  log.log('info', 'started', { pid: process.pid, config: options.configPath, control: control.socketPath, instances: config.instances.length });
  notify(log, { READY: '1', STATUS: statusLine(daemon), MAINPID: String(process.pid) });
  trimMallocAfterLoad(log);

  const watchdogMs = watchdogInterval();
  const watchdog = watchdogMs === undefined ? undefined : setInterval(() => notify(log, { WATCHDOG: '1' }), watchdogMs);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.log('info', 'stopping', { signal });
      notify(log, { STOPPING: '1' });
      if (watchdog) clearInterval(watchdog);
      process.off('SIGHUP', onHup);
      void (async () => {
        try {
          await reloading;
          // The VIPs move first (priority 0), then the resources stop (unless in maintenance).
          await daemon.stop();
          await resources.stop();
          await quorum?.close();
          // After the daemon, so that D-Bus clients see every instance go to Stop.
          await monitors?.stop();
          // The STOP scripts and FIFO lines of the shutdown run before the process ends.
          await notifiers.stop();
        } catch (e) {
          log.log('error', 'stop-failed', { detail: errorText(e) });
        }
        await control.close().catch(() => undefined);
        log.flush();
        log.log('info', 'stopped', {});
        journal?.close();
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        resolve(EXIT_OK);
      })();
    };
    const onHup = (): void => {
      log.log('info', 'reload-requested', { signal: 'SIGHUP' });
      void serialReload();
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

export const daemonRunCommand: CliCommand = {
  name: 'run',
  summary: 'Run the daemon in the foreground (SIGHUP reloads, SIGTERM stops)',
  async run(argv: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          config: { type: 'string', short: 'c' },
          'runtime-dir': { type: 'string' },
          'log-format': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        allowPositionals: false,
      });
    } catch (e) {
      io.stderr(`vigil run: ${errorText(e)}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    if (parsed.values.help) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    const logFormat = parsed.values['log-format'];
    if (logFormat !== undefined && logFormat !== 'text' && logFormat !== 'json') {
      io.stderr(`vigil run: --log-format must be text or json, not "${logFormat}"\n`);
      return EXIT_USAGE;
    }
    const runtimeDir = parsed.values['runtime-dir'];
    if (runtimeDir !== undefined && !runtimeDir.startsWith('/')) {
      io.stderr(`vigil run: --runtime-dir must be an absolute path, not "${runtimeDir}"\n`);
      return EXIT_USAGE;
    }
    return runDaemon({ configPath: parsed.values.config ?? DEFAULT_CONFIG_PATH, runtimeDir, logFormat }, io);
  },
};
