export {
  eigh, resolveEighMethod, defaultJacobiSweeps, jacobiSchedule, symmetrize,
  type EighOptions, type EighResult, type EighMethod,
} from './eigh.js';
export * from './reference.js';
export * from './spd.js';
export * from './o2p.js';
export * from './ncut.js';
