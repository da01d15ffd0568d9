/** Frozen-feature evaluation: linear probe (logistic regression, L-BFGS) and k-NN. */
export * from './probe.js';
