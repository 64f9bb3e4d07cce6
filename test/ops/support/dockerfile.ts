/**
 * The few facts the deployment tests need from the Dockerfile: its stages, and the final stage's user, ENV,
 * HEALTHCHECK, CMD and the directories it hands to its user. Instructions are read as Docker reads them
 * (continuation lines joined, comments dropped), without a Docker engine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DockerfileFacts {
  /** `FROM` images, ARG references resolved with their defaults. */
  stages: { image: string; name?: string; instructions: string[] }[];
  user: string;
  env: Record<string, string>;
  healthcheck: string;
  cmd: string[];
  /** Directories the final stage `chown`s to its user. */
  ownedByUser: string[];
}

export function readDockerfile(root: string): DockerfileFacts {
  const lines = readFileSync(join(root, 'Dockerfile'), 'utf8')
    .replace(/\\\n(\s*#.*\n)*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerfileFacts['stages'] = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, defaultValue] = value.split('=');
      args[name] = defaultValue;
    } else if (keyword === 'FROM') {
      const [image, , name] = value.split(/\s+/);
      stages.push({
        image: image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg]),
        name,
        instructions: [],
      });
    } else {
      stages[stages.length - 1].instructions.push(line);
    }
  }
  const final = stages[stages.length - 1].instructions;
  const last = (keyword: string) =>
    [...final]
      .reverse()
      .find((line) => line.startsWith(`${keyword} `))
      ?.slice(keyword.length + 1) ?? '';
  const env: Record<string, string> = {};
  for (const line of final.filter((l) => l.startsWith('ENV ')))
    for (const [, name, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[name] = value;
  const chown = /chown (\S+?):\S+ ((?:\/\S+\s*)+)/.exec(
    final.filter((l) => l.startsWith('RUN ')).join(' && '),
  );
  const user = last('USER');
  return {
    stages,
    user,
    env,
    healthcheck: last('HEALTHCHECK'),
    cmd: JSON.parse(last('CMD')) as string[],
    ownedByUser: chown && chown[1] === user ? chown[2].trim().split(/\s+/) : [],
  };
}
