/**
 * Loading JavaScript task modules for the agent: each file's exports that are handlers or
 * defineTask() definitions become tasks named after the export (a default export after the file).
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskDefinition, TaskHandler } from '../api/tasks.js';
import { KairosStateError } from '../core/errors.js';

const EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

function files(path: string): string[] {
  const full = resolve(path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full)
    .filter((f) => EXTENSIONS.has(extname(f)))
    .sort()
    .map((f) => join(full, f));
}

function isTask(value: unknown): value is TaskHandler | TaskDefinition {
  return typeof value === 'function' || (typeof value === 'object' && value !== null && typeof (value as TaskDefinition).handler === 'function');
}

/** Import every module under `paths` and collect its tasks. */
export async function loadTaskModules(paths: string[]): Promise<Record<string, TaskHandler | TaskDefinition>> {
  const tasks: Record<string, TaskHandler | TaskDefinition> = {};
  for (const file of paths.flatMap(files)) {
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      throw new KairosStateError(`cannot load tasks from ${file}: ${(error as Error).message}`, { cause: error });
    }
    for (const [name, value] of Object.entries(module)) {
      if (!isTask(value)) continue;
      const taskName = name === 'default' ? basename(file, extname(file)) : name;
      if (tasks[taskName]) throw new KairosStateError(`task ${taskName} is defined twice (in ${file} and before)`);
      tasks[taskName] = value;
    }
  }
  return tasks;
}
