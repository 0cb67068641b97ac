"""The application schema in a database: inspect it (`show`), compare it with the models
(`diff`), create it from the models (`create`, then stamp head) and drop it (`drop`)."""
