// menus.ts: the console's menu tree: which verbs each menu has and what each verb accepts.
// Pure data; the behaviour of each verb lives in the executor for its menu.

export interface CommandSpec {
  /** Named `key=value` arguments. */
  readonly params?: readonly string[];
  /** Bare words such as `detail` or `once`. */
  readonly flags?: readonly string[];
  /** How many positional values (item references, names) it takes. */
  readonly positional?: number;
  /** Accepts a trailing `where <expr>`. */
  readonly where?: boolean;
}

export interface MenuSpec {
  readonly commands: Readonly<Record<string, CommandSpec>>;
  readonly menus?: Readonly<Record<string, MenuSpec>>;
}

const PRINT: CommandSpec = {
  flags: ['detail', 'terse', 'as-value', 'brief', 'count-only', 'without-paging'],
  params: ['proplist'],
  where: true,
};

const DISK_WRITABLE = [
  'type',
  'slot',
  'file-path',
  'file-size',
  'file-offset',
  'copy-from',
  'comment',
  'nvme-tcp-export',
  'nvme-tcp-server-port',
  'nvme-tcp-server-nqn',
  'nvme-tcp-server-allow-host-name',
  'iscsi-export',
  'nfs-sharing',
  'smb-sharing',
  'media-sharing',
  'mount-filesystem',
  'mount-read-only',
  'compress',
  'swap',
] as const;

export const ROOT_MENU: MenuSpec = {
  commands: {},
  menus: {
    disk: {
      commands: {
        print: PRINT,
        add: { params: [...DISK_WRITABLE] },
        set: {
          params: DISK_WRITABLE.filter((p) => p !== 'copy-from' && p !== 'type'),
          positional: 1,
        },
        remove: { positional: 1 },
        'monitor-traffic': { flags: ['once'], positional: 1, params: ['interval', 'duration'] },
      },
    },
    file: {
      commands: {
        print: PRINT,
        remove: { positional: 1 },
      },
    },
    interface: {
      commands: {},
      menus: {
        'nvme-tcp': {
          commands: { print: PRINT },
          menus: { connection: { commands: { print: PRINT } } },
        },
      },
    },
    log: { commands: { print: PRINT } },
    system: {
      commands: {},
      menus: {
        resource: { commands: { print: { flags: ['without-paging'] } } },
        identity: { commands: { print: { flags: ['without-paging'] } } },
      },
    },
  },
};

export function findMenu(path: readonly string[]): MenuSpec {
  let menu = ROOT_MENU;
  for (const name of path) {
    const next = menu.menus?.[name];
    if (next === undefined) throw new Error(`no menu /${path.join('/')}`);
    menu = next;
  }
  return menu;
}
