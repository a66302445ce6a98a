// Where each profile's token may go, as the terminal routes read it at each request: a profile's
// own lists (git hosts, docker registries, MCP servers, clusters), less the entries that name
// another profile, plus the entries of other profiles' lists that name it
// (`{ "host": "git.work.example", "profile": "work" }` in the top-level tokenrelay.git.hosts).
import {
  entriesOf, parseDockerSettings, readDockerRegistryEntries, readGitHostEntries, readKubernetesClusterEntries, readMcpServerEntries,
  type DockerSettings, type ListEntry, type SettingsSource,
} from './settings.ts';
import type { ProfileSource } from './profiles.ts';

/** What the terminal routes read per profile (TerminalRouteOptions' names); undefined: the first profile. */
export interface DestinationSettings {
  gitUsername(profile?: string): string;
  gitHosts(profile?: string): readonly string[] | undefined;
  mcpServers(profile?: string): readonly string[] | undefined;
  kubernetesClusters(profile?: string): readonly string[] | undefined;
  docker(profile?: string): DockerSettings;
}

/** `profiles()` is read at each request: a settings edit applies to the next one. */
export function destinationSettings(profiles: () => ProfileSource[]): DestinationSettings {
  const of = (name: string | undefined) => {
    const all = profiles();
    const me = all.find((p) => p.name === name) ?? all[0];
    return { me, others: all.filter((p) => p !== me) };
  };
  /** Other profiles' entries naming this one; a broken list elsewhere names nobody. */
  const lentTo = (me: ProfileSource, others: ProfileSource[], read: (get: SettingsSource) => ListEntry[] | undefined): string[] =>
    others.flatMap((p) => {
      try {
        return (read(p.get) ?? []).filter((e) => e.profile === me.name).map((e) => e.value);
      } catch {
        return [];
      }
    });
  /**
   * The profile's own list (a broken one throws its named problem) plus what others lend it. An
   * unset list stays unset (git hosts, clusters: any https host; MCP servers: none) unless entries
   * elsewhere name this profile: then those are its list, the narrower reading.
   */
  const listFor = (name: string | undefined, read: (get: SettingsSource) => ListEntry[] | undefined): string[] | undefined => {
    const { me, others } = of(name);
    const own = read(me.get);
    const lent = lentTo(me, others, read);
    if (own === undefined) return lent.length ? lent : undefined;
    return [...new Set([...entriesOf(own, me.name), ...lent])];
  };
  return {
    gitUsername: (name) => {
      const value = of(name).me.get('git.username');
      return typeof value === 'string' ? value : '';
    },
    gitHosts: (name) => listFor(name, readGitHostEntries),
    mcpServers: (name) => listFor(name, readMcpServerEntries),
    kubernetesClusters: (name) => listFor(name, readKubernetesClusterEntries),
    docker: (name) => {
      const { me, others } = of(name);
      const own = parseDockerSettings(me.get, me.name);
      return { username: own.username, registries: [...new Set([...own.registries, ...lentTo(me, others, readDockerRegistryEntries)])] };
    },
  };
}
