// Test setup: the cpu backend (exact, deterministic), quiet.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../src/index.js';

await tf.setBackend('cpu');
