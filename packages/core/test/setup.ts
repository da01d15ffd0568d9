// Test setup: the cpu backend (exact, deterministic), quiet.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../src/index.js';

tf.env().set('IS_TEST', true);
await tf.setBackend('cpu');
