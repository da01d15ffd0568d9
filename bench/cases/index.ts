/** Every benchmark case, in table order. */
import type { BenchCase } from '../case.js';
import { matmulCases } from './matmul.js';
import { rinCases } from './rin.js';
import { perceiverCases } from './perceiver.js';
import { moeCases } from './moe.js';
import { eighCases } from './eigh.js';
import { maeCases } from './mae.js';
import { mlpCases } from './mlp.js';

export function allCases(): BenchCase[] {
  return [...matmulCases(), ...mlpCases(), ...rinCases(), ...perceiverCases(), ...moeCases(), ...eighCases(), ...maeCases()];
}
