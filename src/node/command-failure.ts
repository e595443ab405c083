// command-failure.ts: turns a failed host command into the domain error an operator can act on.
// It quotes the tool's own line, the one that says what went wrong: not resize2fs's version
// banner (once the whole message a failed grow showed), not mount's "dmesg(1) may have more
// information" hint, not a usage dump. Where those words make the kind of failure plain (busy,
// damaged filesystem, unreachable target, missing tool), the error says so and what to do.
import {
  HostCommandError,
  HostDeviceBusyError,
  HostFilesystemDamagedError,
  HostTargetUnreachableError,
  HostToolMissingError,
  type HostCommandFacts,
} from '../errors.js';
import type { CommandResult } from './exec.js';

/** The step that failed, for the message. */
export interface FailedStep {
  /** What the node was doing: `mounting /dev/nvme1n1 at /var/lib/kubelet/...`. */
  readonly step: string;
  /** What to check when the tool's words name no failure of a known kind. */
  readonly advice: string;
}

/** The longest tool line a message quotes (a path can make one long; a dump is never quoted). */
export const TOOL_MESSAGE_MAX = 300;

/** Version banners: `resize2fs 1.47.0 (5-Feb-2023)`, `mke2fs 1.47.0 (5-Feb-2023)`. */
const BANNER = /^[\w.-]+ v?\d+(?:\.\d+)+(?: \([^)]*\))?$/;
/** Hints that follow the real error (and would hide it if quoted instead). */
const HINT =
  /dmesg\(1\) may have more information|use the -f option to force|^try .*--help|for more information\.?$/i;
/** Where a usage or option listing starts: nothing from there on is the error. */
const USAGE = /^usage:/i;
/** Words a line that reports the failure carries; the last such line is quoted. */
const FAILURE_WORDS =
  /\b(?:error|errors|fail|failed|failure|invalid|illegal|bad|cannot|can't|could not|unable|not|no|denied|busy|refused|must|unknown|wrong|corrupt\w*|too|needs?|missing|already)\b/i;

const BUSY =
  /target is busy|device or resource busy|mount point busy|apparently in use by the system|is mounted; will not make/i;
const DAMAGED = /structure needs cleaning|can't read superblock|bad magic number|corrupt/i;
const UNREACHABLE =
  /connection refused|no route to host|network is unreachable|host is unreachable|connection timed out/i;
const NOT_PERMITTED = /permission denied|operation not permitted|only root can/i;

/** Which package provides a tool, for the "not installed" message. */
const PACKAGES: Readonly<Record<string, string>> = {
  'mkfs.ext4': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_growfs: 'xfsprogs',
  nvme: 'nvme-cli',
  mknod: 'coreutils',
};

/** `text` as one printable line of at most `max` characters. */
function oneLine(text: string, max = TOOL_MESSAGE_MAX): string {
  const flat = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function meaningfulLines(text: string): string[] {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const usage = lines.findIndex((line) => USAGE.test(line));
  return (usage === -1 ? lines : lines.slice(0, usage)).filter(
    (line) => line !== '' && !BANNER.test(line) && !HINT.test(line),
  );
}

/**
 * The tool's own line: from stderr, else stdout, the last line that reports a failure (else the
 * last line left) once banners, hints and usage text are set aside; one line, bounded; empty
 * when the tool printed nothing else.
 */
export function toolMessage(result: Pick<CommandResult, 'stdout' | 'stderr'>): string {
  for (const text of [result.stderr, result.stdout]) {
    const lines = meaningfulLines(text);
    const said = lines.filter((line) => FAILURE_WORDS.test(line)).at(-1) ?? lines.at(-1);
    if (said !== undefined) return oneLine(said);
  }
  return '';
}

/** The error for a command that ran and exited non-zero (or was ended by a signal). */
export function commandFailure(
  command: string,
  result: CommandResult,
  { step, advice }: FailedStep,
): HostCommandError {
  const facts: HostCommandFacts = {
    command,
    exitCode: result.code,
    toolMessage: toolMessage(result),
  };
  const ended =
    facts.exitCode === null
      ? `${command} was ended by a signal`
      : `${command} exited with status ${String(facts.exitCode)}`;
  const said = facts.toolMessage === '' ? ` and printed nothing` : `: "${facts.toolMessage}"`;
  const failed = `${step} failed: ${ended}${said}`;
  // The kind is read from every line the tool said: nvme-cli puts the errno on the line before
  // its last ("Failed to write to /dev/nvme-fabrics: Connection refused").
  const words = [...meaningfulLines(result.stderr), ...meaningfulLines(result.stdout)].join('\n');
  if (BUSY.test(words)) {
    return new HostDeviceBusyError(
      `${failed}; something on this node still uses it (an open file, another mount, a device stacked on it): find it with "fuser -vm" or "lsof", stop it, then retry`,
      facts,
    );
  }
  if (DAMAGED.test(words)) {
    return new HostFilesystemDamagedError(
      `${failed}; the volume's filesystem looks damaged: take a snapshot, check it (e2fsck -f, or xfs_repair) where it is not mounted, then retry`,
      facts,
    );
  }
  const unreachable = UNREACHABLE.exec(words);
  if (unreachable !== null) {
    return new HostTargetUnreachableError(
      `${failed}; the RDS's NVMe/TCP target did not take the connection (${unreachable[0].toLowerCase()}): check that the RDS is up and that this node reaches its NVMe address and port`,
      facts,
    );
  }
  if (NOT_PERMITTED.test(words)) {
    return new HostCommandError(
      `${failed}; the node plugin lacks a privilege this needs (mounting needs CAP_SYS_ADMIN, growing ext4 also CAP_SYS_RESOURCE): run the node plugin privileged`,
      facts,
    );
  }
  return new HostCommandError(`${failed}; ${advice}`, facts);
}

/** The error for a program that could not be started at all (spawn failed). */
export function spawnFailure(
  command: string,
  args: readonly string[],
  error: NodeJS.ErrnoException,
): HostCommandError {
  const facts: HostCommandFacts = { command, exitCode: null, toolMessage: oneLine(error.message) };
  const line = oneLine([command, ...args].join(' '));
  const cannot = `cannot run "${line}" on this node (${facts.toolMessage})`;
  if (error.code === 'ENOENT' || error.code === 'EACCES') {
    const missing = error.code === 'ENOENT' ? 'it is not installed' : 'it may not be run';
    const from = PACKAGES[command] ?? 'util-linux';
    return new HostToolMissingError(
      `${cannot}: ${missing}; use a node plugin image that provides ${command} (package ${from})`,
      facts,
      { cause: error },
    );
  }
  return new HostCommandError(`${cannot}; check the node's process and memory limits`, facts, {
    cause: error,
  });
}
