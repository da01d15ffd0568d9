/** Every benchmark case, in table order. */
import type { BenchCase } from '../case.js';
import { matmulCases } from './matmul.js';
import { rinCases } from './rin.js';
import { perceiverCases } from './perceiver.js';
import { moeCases } from './moe.js';
import { eighCases } from './eigh.js';
import { maeCases } from './mae.js';

export function allCases(): BenchCase[] {
  return [...matmulCases(), ...rinCases(), ...perceiverCases(), ...moeCases(), ...eighCases(), ...maeCases()];
}
