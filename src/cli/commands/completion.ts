// tokenrelay completion bash|zsh|fish: a completion script for the shell, generated from the command
// table and each command's own help, so it never lists an option a command does not take.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, printHelp, usageError, type Command } from '../common.ts';
import { commands } from '../commandTable.ts';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

const help = `Usage: ${PROG} completion bash|zsh|fish

Prints a shell completion script for ${PROG}'s commands and options.

  bash   echo 'source <(${PROG} completion bash)' >> ~/.bashrc
  zsh    echo 'source <(${PROG} completion zsh)' >> ~/.zshrc
  fish   ${PROG} completion fish > ~/.config/fish/completions/${PROG}.fish`;

/** Words a command takes as its first argument (actions, shells, targets). */
const ACTIONS: Record<string, string[]> = {
  'git-credential': ['get', 'store', 'erase'],
  completion: [...SHELLS],
  setup: ['path', 'git', 'kubectl', 'docker'],
};

interface Spec { name: string; summary: string; words: string[] }

export const completionCommand: Command = {
  name: 'completion',
  summary: 'print a shell completion script (bash, zsh, fish)',
  help,
  async run(argv) {
    const { values, positionals } = parse('completion', argv, {}, true);
    if (values.help) return printHelp(help);
    const shell = positionals[0] as Shell;
    if (positionals.length !== 1 || !SHELLS.includes(shell)) throw usageError(`Name one shell: ${SHELLS.join(', ')}`, 'completion');
    const specs: Spec[] = [];
    for (const [name, entry] of Object.entries(commands)) {
      // The options a command defines: help lines that start with one ("  -X, --request M", "  --json").
      const defined = (await entry.load()).help.split('\n').map((line) => /^\s*(?:-\w,\s*)?(--[a-z][a-z-]*)/.exec(line)?.[1]);
      // --profile: every command takes it (common.ts parse), whether or not its help lists it.
      const options = [...new Set([...defined.filter((o): o is string => !!o), '--profile'])];
      specs.push({ name, summary: entry.summary, words: [...(ACTIONS[name] ?? []), ...options] });
    }
    await out(shell === 'fish' ? fishScript(specs) : bashScript(specs, shell === 'zsh'));
    return EXIT.ok;
  },
};

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function bashScript(specs: Spec[], zsh: boolean): string {
  const cases = specs.map((s) => `    ${s.name}) words=${quote(s.words.join(' '))} ;;`).join('\n');
  return `${zsh ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}_${PROG}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote([...specs.map((s) => s.name), 'version', 'help', '--help', '--version'].join(' '))} -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${cases}
    *) words= ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _${PROG} ${PROG}
`;
}

function fishScript(specs: Spec[]): string {
  const lines = [`complete -c ${PROG} -f`];
  for (const s of specs) {
    lines.push(`complete -c ${PROG} -n __fish_use_subcommand -a ${s.name} -d ${quote(s.summary)}`);
    for (const word of s.words) {
      const when = `-n ${quote(`__fish_seen_subcommand_from ${s.name}`)}`;
      lines.push(word.startsWith('--') ? `complete -c ${PROG} ${when} -l ${word.slice(2)}` : `complete -c ${PROG} ${when} -a ${word}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
