// `node --import tsx --import ./warm-register.mjs warm-child.ts`: hooks registered later run first, so this one
// sees the paths tsx resolved (`.ts`) and can swap the Recall transport for the in-memory one (warm-hooks.mjs).
import { register } from 'node:module';

register('./warm-hooks.mjs', import.meta.url);
