// Test setup: the cpu backend (exact, deterministic).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@brickml/core';

await tf.setBackend('cpu');
