/** Entry point of the RabbitMQ bridge service (`bun run bridge`). */
process.stderr.write('switchyard bridge: not yet available (tracked as the RabbitMQ bridge issue)\n');
process.exit(2);
